"""Serving cluster names: a pre-rendered answer when one is cached, else synthesis.

A name-error answer falls through when ``fallthrough`` covers the name, and is
SERVFAIL (never a wrong NXDOMAIN) until every watched resource has synced once,
as CoreDNS does. CNAME targets outside the cluster zones (ExternalName services)
are resolved through the server's own chain.
"""

from __future__ import annotations

import logging

import dnslib

from kdns import plugin, render, replay, wire
from kdns.cluster import kubernetes as records
from kdns.kube import store
from kdns.pkg import dnsname
from kdns.pkg.fall import Fall
from kdns.plugins.kubernetes import answers
from kdns.plugins.kubernetes.options import Options
from kdns.request import Request

log = logging.getLogger("kdns.plugin.kubernetes")

_TRANSFER = (dnslib.QTYPE.AXFR, dnslib.QTYPE.IXFR)
#: Zone transfers need the transfer plugin; the client's request is refused, not a server error.
TRANSFER_REFUSED = wire.Answer.failure(wire.REFUSED)


class Kubernetes:
    name = "kubernetes"
    #: Passing on a name outside the zones depends on the query alone; a fallthrough is
    #: leased per answer (``_fall_through``), every other answer per entry.
    lease = replay.PURE

    def __init__(
        self,
        next: plugin.Handler,
        *,
        synthesizer: records.Synthesizer,
        fall: Fall,
        cache: answers.Answers | None = None,
        options: Options | None = None,
    ) -> None:
        self.next = next
        #: The parsed directive (``Options``), when built from a Corefile.
        self.options = options
        self.synth = synthesizer
        self.store = synthesizer.store
        self.fall = fall
        self.zones = tuple(sorted(synthesizer.settings.zones, key=len, reverse=True))
        # Not ``cache or ...``: an empty Answers is falsy (it has a length).
        self.answers = cache if cache is not None else answers.Answers()
        #: Ends on every store change: what fell through may now be a cluster name.
        self._any_change = replay.Lease()
        #: Ends when the SOA serial changes: answers holding the serial are leased under it.
        self._serial_lease = replay.Lease()
        self._serial = self.store.serial
        self._unsubscribe = self.store.subscribe(self._changed)

    # --- invalidation ---------------------------------------------------------------------

    def _changed(self, change: store.Change) -> None:
        self._any_change.end()
        self._any_change = replay.Lease()
        if self.store.serial != self._serial:
            self._serial = self.store.serial
            self._serial_lease.end()
            self._serial_lease = replay.Lease()
        if change[0] == "service":
            _, namespace, name = change
            self.answers.invalidate(("svc", namespace, name))
            for ip in self._addresses_of(namespace, name):
                self.answers.invalidate(("ip", ip))
        elif change[0] == "pod":
            self.answers.invalidate(("ip", change[2]))
        elif change[0] == "namespace":
            self.answers.invalidate(("ns", change[1]))

    def _addresses_of(self, namespace: str, name: str) -> set[str]:
        """A service's addresses now: PTR answers for them may change with it."""
        found: set[str] = set()
        svc = self.store.service(namespace, name)
        if svc is not None:
            found.update(ip for ip in svc.cluster_ips if ip != "None")
        for subset in self.store.endpoints(namespace, name):
            found.update(a.address for a in subset.addresses)
        return found

    def close(self) -> None:
        self._unsubscribe()

    # --- serving --------------------------------------------------------------------------

    def zone_of(self, name: str) -> str | None:
        return dnsname.text_longest(name, self.zones)

    def serve(self, req: Request) -> plugin.Result:
        entry = self.answers.get(req.key)
        if entry is not None:
            if entry.serial_at < 0 or entry.serial == self.store.serial:
                return entry.answer
            return entry.with_serial(self.store.serial, self._serial_lease)
        name = req.name
        zone = self.zone_of(name)
        if zone is None:
            return self.next.serve(req)
        if req.qtype in _TRANSFER:
            return TRANSFER_REFUSED
        result = self.synth.lookup(name, req.qtype, zone)
        synced = self.store.has_synced()
        if result.name_error:
            if self.fall.through(name):
                return plugin.then(self.next.serve(req), self._fell_through)
            if not synced:
                result.rcode = wire.SERVFAIL
        if result.chase:
            return self._chase(req, result)
        answer = self._render(name, req.qtype, result)
        if synced:
            self.answers.put(req.key, self._entry(answer, result))
        return answer

    def _fell_through(self, answer: wire.Answer) -> wire.Answer:
        """The next plugin's answer, kept only until the store next changes."""
        if answer.lease is None:
            return answer
        return answer.leased(replay.Lease.under(answer.lease, self._any_change))

    def _render(
        self,
        name: str,
        qtype: int,
        result: records.Records,
        truncated: bool = False,
    ) -> wire.Answer:
        return render.answer(
            name,
            qtype,
            rcode=result.rcode,
            answer=result.answer,
            authority=result.authority,
            additional=result.additional,
            truncated=truncated,
            plugin="kubernetes",
        )

    def _entry(self, answer: wire.Answer, result: records.Records) -> answers.Entry:
        serial_at = -1
        if result.authority and result.authority[-1].rtype == dnslib.QTYPE.SOA:
            serial_at = answers.soa_serial_offset(answer)
        elif len(result.answer) == 1 and result.answer[0].rtype == dnslib.QTYPE.SOA:
            serial_at = answer.ends[0] - 20
        lease = replay.Lease()
        answer.lease = lease if serial_at < 0 else replay.Lease.under(lease, self._serial_lease)
        return answers.Entry(
            answer=answer,
            tags=tuple(result.tags),
            serial=self.store.serial,
            serial_at=serial_at,
            lease=lease,
        )

    async def _chase(self, req: Request, result: records.Records) -> wire.Answer:
        """Append the records of CNAME targets outside the cluster zones, via the server's chain."""
        truncated = False
        for target in result.chase:
            sub = await plugin.resolve(plugin.lookup(req, target, req.qtype))
            if sub.body is None:
                continue
            message = _parse(sub, target, req.qtype)
            if message is None:
                continue
            truncated = truncated or bool(message.header.tc)
            result.answer.extend(message.rr)
            if not message.rr and message.header.rcode == wire.NXDOMAIN:
                result.rcode = wire.NXDOMAIN
        return self._render(req.name, req.qtype, result, truncated=truncated)


def _parse(answer: wire.Answer, name: str, qtype: int) -> dnslib.DNSRecord | None:
    """An Answer as a dnslib message (slow path: only for CNAME chasing)."""
    query = dnslib.DNSRecord.question(name, dnslib.QTYPE.get(qtype, "A")).pack()
    try:
        full = wire.finalize(wire.Query(query), answer, wire.MAX_MESSAGE)
        return dnslib.DNSRecord.parse(full)
    except Exception:
        log.debug("plugin/kubernetes: unparsable answer for %s", name, exc_info=True)
        return None
