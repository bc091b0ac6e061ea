"""Query logging. Placeholders as CoreDNS's log plugin (``plugin/pkg/replacer``)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import dnslib

from kdns import plugin, wire
from kdns.pkg import dnsname
from kdns.request import Request

log = logging.getLogger("kdns.plugin.log")

COMMON = (
    '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
    "{rcode} {>rflags} {rsize} {duration}"
)
COMBINED = COMMON + ' "{>opcode}"'
CLASSES = ("all", "success", "denial", "error")
_PLACEHOLDER = re.compile(r"\{[^{}]+\}")
_FLAG_BITS = (
    ("qr", 2, wire.QR),
    ("aa", 2, wire.AA),
    ("tc", 2, wire.TC),
    ("rd", 2, wire.RD),
    ("ra", 3, wire.RA),
    ("z", 3, 0x40),
    ("ad", 3, wire.AD),
    ("cd", 3, wire.CD),
)


@dataclass(frozen=True, slots=True)
class Rule:
    zones: tuple[str, ...]
    fmt: str
    classes: frozenset[str]

    def matches(self, name: str) -> bool:
        return any(dnsname.text_within(name, z) for z in self.zones)


def classify(answer: wire.Answer) -> str:
    """CoreDNS's ``response.Classify`` reduced to the log plugin's classes."""
    if answer.rcode == wire.NXDOMAIN or (answer.rcode == wire.NOERROR and answer.ancount == 0):
        return "denial"
    if answer.rcode in (wire.NOERROR,):
        return "success"
    return "error"


def duration_text(seconds: float) -> str:
    """Go's ``strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"``."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return (text or "0") + "s"


def flags_text(reply: bytes) -> str:
    return ",".join(name for name, byte, bit in _FLAG_BITS if reply[byte] & bit)


class Log:
    name = "log"

    def __init__(self, next: plugin.Handler, rules: list[Rule]) -> None:
        self.next = next
        self.rules = rules

    def serve(self, req: Request) -> plugin.Result:
        start = time.perf_counter()
        result = self.next.serve(req)
        return plugin.then(result, lambda answer: self._log(req, answer, start))

    def _log(self, req: Request, answer: wire.Answer, start: float) -> wire.Answer:
        if answer is wire.DROP:
            return answer
        name = req.name
        for rule in self.rules:
            if not rule.matches(name):
                continue
            # The first rule whose names match decides, as in CoreDNS, even when its
            # classes leave this answer out.
            if "all" not in rule.classes and classify(answer) not in rule.classes:
                break
            reply = wire.finalize(req, answer, req.size)
            values = _values(req, answer, reply, time.perf_counter() - start)
            log.info("%s", _fill(rule.fmt, values))
            break
        return answer


def _fill(fmt: str, values: dict[str, str]) -> str:
    """``fmt`` with each placeholder replaced by its value, "-" for one without."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(0), "-"), fmt)


def _values(req: Request, answer: wire.Answer, reply: bytes, elapsed: float) -> dict[str, str]:
    host, port = req.remote[0], req.remote[1]
    return {
        "{type}": dnslib.QTYPE.get(req.qtype, f"TYPE{req.qtype}"),
        "{name}": req.name,  # request.Name(): lower-cased
        "{class}": dnslib.CLASS.get(req.qclass, f"CLASS{req.qclass}"),
        "{proto}": req.proto,
        "{remote}": f"[{host}]" if ":" in host else host,
        "{port}": str(port),
        "{size}": str(len(req.data)),
        "{>id}": str(int.from_bytes(req.data[0:2], "big")),
        "{>do}": "true" if req.do else "false",
        "{>bufsize}": str(req.edns_size),
        "{>opcode}": str((req.data[2] >> 3) & 0x0F),
        "{rcode}": wire.RCODE_NAMES.get(answer.rcode, str(answer.rcode)),
        "{>rflags}": flags_text(reply),
        "{rsize}": str(len(reply)),
        "{duration}": duration_text(elapsed),
        "{>rcode}": wire.RCODE_NAMES.get(answer.rcode, str(answer.rcode)),
    }
