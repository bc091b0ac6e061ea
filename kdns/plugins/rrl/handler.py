"""Response rate limiting on the query path, as coredns/rrl and BIND's RRL do it.

Requests are limited first, per client prefix, over UDP and TCP (over the limit: no reply).
Then, for UDP only, the chain's reply is put in a category (response, nodata, nxdomain,
referral, error) and charged to the account of (client prefix, category, type, name): the query
name for responses and NODATA, the first authority owner (the zone) for NXDOMAIN and referrals,
nothing for errors. Over the limit the reply is dropped, or every ``slip-ratio``-th one is sent
truncated and empty so that a real client retries over TCP. Errors the server writes itself are
never limited. With ``report-only`` only the counters move. Replayed replies (``kdns.replay``)
are charged too: ``replay_gate`` gives the listener's reader thread the same accounts to ask
before each replay.

Unlike coredns/rrl, response names are compared lower-cased, so a client cannot dodge its
account by changing the case of letters (0x20), and the metric label of a client is its prefix
when more than ``MAX_LABELS`` distinct clients were counted, so a spoofed flood cannot grow the
metrics without bound.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from kdns import metrics, plugin, replay, wire
from kdns.pkg import dnsname
from kdns.plugins.rrl import table as table_
from kdns.plugins.rrl.options import NANOS, Options
from kdns.plugins.rrl.table import Verdict
from kdns.request import UDP, Request

log = logging.getLogger("kdns.plugin.rrl")

#: Distinct ``client_ip`` label values counted before further clients are labelled by prefix.
MAX_LABELS = 1000
#: Client prefixes remembered per address (a cache in front of the masking arithmetic).
PREFIX_CACHE = 4096

REQUESTS_EXCEEDED = metrics.family(
    "coredns_rrl_requests_exceeded_total",
    "Counter of requests exceeding the request rate limit.",
    ("client_ip",),
)
RESPONSES_EXCEEDED = metrics.family(
    "coredns_rrl_responses_exceeded_total",
    "Counter of responses exceeding the response rate limit.",
    ("client_ip",),
)

RESPONSE, NODATA, NXDOMAIN, REFERRAL, ERROR = range(5)
_TYPE_NS = 2


def _interval(rate: float) -> int:
    return int(NANOS / rate) if rate > 0 else 0


class RRL:
    name = "rrl"
    #: Its decisions depend on the client, which a kept reply does not know: every replay asks
    #: ``replay_gate``'s gate first, so kept replies are counted as any other.
    lease = replay.PURE

    def __init__(self, next: plugin.Handler, *, options: Options) -> None:
        self.next = next
        self.options = options
        self.zones = frozenset(wire.text_to_name(z) for z in options.zones)
        self._intervals = (
            _interval(options.responses),
            _interval(options.nodata),
            _interval(options.nxdomains),
            _interval(options.referrals),
            _interval(options.errors),
        )
        self._request_interval = _interval(options.requests)
        self._limits_responses = any(self._intervals)
        self.accounts = table_.Table(
            window=options.window, slip=options.slip_ratio, max_size=options.max_table_size
        )
        self._prefixes: dict[str, str] = {}
        self._labels: set[str] = set()
        self._warned_full = False

    def serve(self, req: Request) -> plugin.Result:
        if not self._covers(req.key):
            return self.next.serve(req)
        now = time.monotonic_ns()
        prefix = self._prefix(req.remote[0])
        if self._request_interval:
            verdict = self.accounts.debit(prefix, self._request_interval, now)
            if verdict != Verdict.ALLOW:
                self._count(REQUESTS_EXCEEDED, req.remote[0], prefix)
                if not self.options.report_only:
                    return wire.DROP
        result = self.next.serve(req)
        if req.proto != UDP or not self._limits_responses:
            return result
        if type(result) is wire.Answer:
            return self._limit(req, prefix, result, now)
        return plugin.then(result, lambda answer: self._limit(req, prefix, answer, now))

    def _covers(self, key: bytes) -> bool:
        return dnsname.within_any(key[:-4], self.zones)

    def _account(self, req: Request, answer: wire.Answer) -> tuple[tuple[object, ...], int]:
        """The account of ``answer`` to ``req`` without the client prefix, and its interval
        (0: this kind of reply is not limited)."""
        category = _category(answer)
        interval = self._intervals[category]
        if not interval:
            return (), 0
        if category in (RESPONSE, NODATA):
            return (category, req.qtype, req.key[:-4]), interval
        if category == ERROR:
            return (category,), interval
        owner = _authority_owner(req, answer)
        return (category, req.qtype if category == REFERRAL else 0, owner), interval

    def _limit(self, req: Request, prefix: str, answer: wire.Answer, now: int) -> wire.Answer:
        if answer.body is None or answer is wire.DROP:
            return answer  # the server writes it: never limited
        account, interval = self._account(req, answer)
        if not interval:
            return answer
        verdict = self._debit((prefix, *account), interval, now, req.remote[0], prefix)
        if verdict == Verdict.ALLOW:
            return answer
        if verdict == Verdict.SLIP:
            return _slipped(answer)
        return wire.DROP

    def _debit(
        self, key: tuple[object, ...], interval: int, now: int, host: str, prefix: str
    ) -> int:
        """Charge one reply to ``key``: the verdict to act on (ALLOW under ``report-only``)."""
        verdict = self.accounts.debit(key, interval, now)
        if self.accounts.untracked and not self._warned_full:
            self._warned_full = True
            log.warning(
                "plugin/rrl: table full (max-table-size %d): new clients are not limited",
                self.options.max_table_size,
            )
        if verdict == Verdict.ALLOW:
            return verdict
        self._count(RESPONSES_EXCEEDED, host, prefix)
        return Verdict.ALLOW if self.options.report_only else verdict

    def replay_gate(self, req: Request, answer: wire.Answer) -> replay.Gate | None:
        """What a replay of ``answer`` to ``req``'s query asks first: the same request and
        response accounts the chain would charge, for the client the replay goes to."""
        if not self._covers(req.key):
            return None
        account, interval = self._account(req, answer)
        per_request = self._request_interval
        if not interval and not per_request:
            return None
        prefix_of = self._prefix
        debit = self._debit
        accounts = self.accounts
        report_only = self.options.report_only

        def gate(addr: tuple[str, int]) -> int:
            now = time.monotonic_ns()
            host = addr[0]
            prefix = prefix_of(host)
            if per_request and accounts.debit(prefix, per_request, now) != Verdict.ALLOW:
                self._count(REQUESTS_EXCEEDED, host, prefix)
                if not report_only:
                    return replay.DROP
            if not interval:
                return replay.ALLOW
            verdict = debit((prefix, *account), interval, now, host, prefix)
            if verdict == Verdict.SLIP:
                return replay.SLIP
            return replay.DROP if verdict == Verdict.DROP else replay.ALLOW

        return gate

    def _prefix(self, host: str) -> str:
        found = self._prefixes.get(host)
        if found is None:
            address = host.partition("%")[0]
            length = self.options.ipv6_prefix if ":" in address else self.options.ipv4_prefix
            found = str(ipaddress.ip_network(f"{address}/{length}", strict=False).network_address)
            if len(self._prefixes) >= PREFIX_CACHE:
                self._prefixes.clear()
            self._prefixes[host] = found
        return found

    def _count(self, family: metrics.Counters, host: str, prefix: str) -> None:
        label = host
        if label not in self._labels:
            if len(self._labels) >= MAX_LABELS:
                label = prefix
            else:
                self._labels.add(label)
        family.inc((label,))


def _category(answer: wire.Answer) -> int:
    if answer.ancount:
        return RESPONSE
    if answer.rcode == wire.NXDOMAIN:
        return NXDOMAIN
    if answer.rcode != wire.NOERROR:
        return ERROR
    if answer.nscount and _first_authority_type(answer) == _TYPE_NS:
        return REFERRAL
    return NODATA


def _first_authority_type(answer: wire.Answer) -> int:
    body = answer.body
    assert body is not None
    offset = wire.skip_name(body, 0)
    return int.from_bytes(body[offset : offset + 2], "big")


def _authority_owner(req: Request, answer: wire.Answer) -> bytes:
    """The first authority record's owner, lower-case wire form (pointers followed); empty
    when there is none."""
    if not answer.nscount or answer.body is None:
        return b""
    message = req.data[: req.question_end] + answer.body
    start = req.question_end + (answer.ends[answer.ancount - 1] if answer.ancount else 0)
    return _read_name(message, start).lower()


def _read_name(message: bytes, offset: int) -> bytes:
    out = bytearray()
    jumps = 0
    while True:
        length = message[offset]
        if length >= 0xC0:
            jumps += 1
            if jumps > 16:
                return bytes(out) + b"\x00"
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            continue
        out += message[offset : offset + length + 1]
        if length == 0:
            return bytes(out)
        offset += length + 1


_slipped = replay.slipped
