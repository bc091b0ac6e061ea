"""A fake kube-apiserver for tests: list and watch with the real API's semantics, over plain HTTP.

What it imitates, and why each matters to a watching client:

* One global, monotonically increasing resourceVersion across all kinds (etcd's revision);
  every object carries ``metadata.resourceVersion``, ``uid`` and ``creationTimestamp``. List
  items carry no ``kind``/``apiVersion``; watch event objects do.
* ``limit``/``continue`` paging over a consistent snapshot at the first page's revision; the
  continue token is the real format (base64 of ``{"v","rv","start"}``) and answers 410 Expired
  once that revision has been compacted. ``resourceVersion=0`` lists are served "from the watch
  cache": ``limit`` is ignored, as older servers do.
* ``watch`` from a resourceVersion streams later changes as newline-delimited JSON events; from
  an unset or ``"0"`` resourceVersion it first sends synthetic ADDED events for the current
  state. A compacted resourceVersion gives a 200 stream whose only event is an ERROR with a 410
  Expired Status (what the real server does), or an HTTP 410 when :attr:`expired_as_http` is set.
  ``allowWatchBookmarks`` gives BOOKMARK events every :attr:`bookmark_interval` seconds;
  ``timeoutSeconds`` closes the stream cleanly. With selectors, an object that stops matching is
  sent as DELETED and one that starts matching as ADDED, as the real watch cache does.
* Bearer-token authentication (401 Status) and per-resource RBAC denial (403 Status with the
  real message).
* Restore from an etcd backup (:meth:`backup`, :meth:`restore`): the objects and the revision
  go back to the snapshot's, so resourceVersions go backwards. A watch from a revision newer
  than the server's current one does what the real server does: by default it hangs (etcd and
  the watch cache wait for that revision; no events and no bookmarks, since bookmarks never go
  below the watcher's revision); with :attr:`too_large_as_http` it answers, after
  :attr:`too_large_wait` seconds, the watch cache's HTTP 504 ``Timeout`` Status "Too large
  resource version" with the ``ResourceVersionTooLarge`` cause.

Test controls are plain methods: :meth:`create`, :meth:`update`, :meth:`delete`,
:meth:`compact`, :meth:`backup`, :meth:`restore`, :meth:`set_token`, :meth:`forbid`, :meth:`drop_watches`,
:meth:`stall_watches`, :meth:`restart`, :meth:`write_kubeconfig`, and :attr:`requests`.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import copy
import dataclasses
import datetime
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tests.support import selectors

Obj = dict[str, Any]
Key = tuple[str, str]

USER = "system:serviceaccount:kube-system:kdns"
DEFAULT_TOKEN = "kdns-test-token"


@dataclasses.dataclass(frozen=True)
class Kind:
    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    fields: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
KINDS: dict[str, Kind] = {
    k.plural: k
    for k in (
        Kind("services", "Service", "", "v1", True, _META_FIELDS | {"spec.clusterIP", "spec.type"}),
        Kind(
            "endpointslices",
            "EndpointSlice",
            "discovery.k8s.io",
            "v1",
            True,
            _META_FIELDS | {"addressType"},
        ),
        Kind(
            "namespaces", "Namespace", "", "v1", False, frozenset({"metadata.name", "status.phase"})
        ),
        Kind(
            "pods",
            "Pod",
            "",
            "v1",
            True,
            _META_FIELDS | {"spec.nodeName", "status.phase", "status.podIP"},
        ),
    )
}
_BY_KIND = {k.kind: k for k in KINDS.values()}


@dataclasses.dataclass(frozen=True)
class Request:
    """One request as the server saw it, for asserting what a client sent."""

    method: str
    path: str
    query: dict[str, str]

    @property
    def watch(self) -> bool:
        return self.query.get("watch") in ("1", "true")


@dataclasses.dataclass
class _Record:
    rv: int
    plural: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    prev: Obj | None


@dataclasses.dataclass(frozen=True)
class Backup:
    """An etcd snapshot: every object and the revision at the time it was taken."""

    rv: int
    objects: dict[str, dict[Key, Obj]]


@dataclasses.dataclass(eq=False)
class _Watch:
    plural: str
    request: web.BaseRequest
    stalled: bool = False
    dropped: bool = False


def _status(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


class FakeAPIServer:
    """A kube-apiserver stand-in on 127.0.0.1, restartable on the same port.

    Plain HTTP by default; pass ``ssl_context`` (see :mod:`tests.fakes.tls`) to serve HTTPS.

    :param token: the bearer token accepted (``None`` disables authentication).
    :param bookmark_interval: seconds between BOOKMARK events on watches that allow them.
    :param expired_as_http: answer a watch from a compacted resourceVersion with HTTP 410
        instead of a 200 stream carrying one ERROR event.
    :param too_large_as_http: answer a watch from a resourceVersion newer than the current one
        with HTTP 504 "Too large resource version" after :attr:`too_large_wait` seconds (the
        watch cache's answer) instead of a stream that waits for that revision (etcd's).
    """

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        bookmark_interval: float = 1.0,
        expired_as_http: bool = False,
        too_large_as_http: bool = False,
        too_large_wait: float = 3.0,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.token = token
        self.ssl_context = ssl_context
        self.bookmark_interval = bookmark_interval
        self.expired_as_http = expired_as_http
        self.too_large_as_http = too_large_as_http
        #: How long the watch cache waits for a too-new revision before answering 504 (3 s).
        self.too_large_wait = too_large_wait
        self.host = host
        self.port = 0
        self.requests: list[Request] = []
        self.rv = 1
        self._compacted_rv = 1
        self._objects: dict[str, dict[Key, Obj]] = {plural: {} for plural in KINDS}
        self._history: list[_Record] = []
        self._history_rvs: list[int] = []
        self._forbidden: set[str] = set()
        self._watches: set[_Watch] = set()
        self._wakeup = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        #: Called with each request before it is handled (tests use it to interleave changes).
        self.on_request: Callable[[Request], None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._stopping = False
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(
            runner, self.host, self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        if not self.port:
            self.port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        """Go away as a crashed API server would: open streams are cut, new connections refused."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        self.drop_watches()
        await runner.cleanup()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def __aenter__(self) -> FakeAPIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- test controls -----------------------------------------------------------------------

    def set_token(self, token: str | None) -> None:
        self.token = token

    def forbid(self, plural: str, forbidden: bool = True) -> None:
        """Deny list and watch on a resource (by plural, e.g. ``endpointslices``)."""
        if forbidden:
            self._forbidden.add(plural)
        else:
            self._forbidden.discard(plural)

    def compact(self) -> None:
        """Forget the history: watches and continue tokens from older revisions get 410."""
        self._compacted_rv = self.rv
        self._history.clear()
        self._history_rvs.clear()
        self._notify()

    def backup(self) -> Backup:
        """Take an etcd snapshot (``etcdctl snapshot save``)."""
        return Backup(self.rv, copy.deepcopy(self._objects))

    def restore(self, backup: Backup) -> None:
        """Restore etcd from ``backup`` without bumping the revision: the revision goes back.

        Objects created since the backup are gone, deleted ones are back, and new writes get
        resourceVersions that were already handed out before. The history before the backup is
        not kept (as if compacted at the snapshot's revision). Restoring means restarting the
        API server, so call it between :meth:`stop` and :meth:`start`.
        """
        self.rv = backup.rv
        self._objects = copy.deepcopy(backup.objects)
        self._compacted_rv = backup.rv
        self._history.clear()
        self._history_rvs.clear()
        self._notify()

    def drop_watches(self) -> None:
        """Cut every open watch stream abruptly (no terminating chunk)."""
        for watch in self._watches:
            watch.dropped = True
            transport = watch.request.transport
            if transport is not None:
                transport.abort()
        self._notify()

    def stall_watches(self, stalled: bool = True) -> None:
        """Keep the currently open streams open but write nothing on them, not even bookmarks.

        Streams opened later are not stalled: a client that gives up on a stalled stream and
        watches again gets a healthy one.
        """
        for watch in self._watches:
            watch.stalled = stalled
        self._notify()

    @property
    def open_watches(self) -> int:
        return len(self._watches)

    def watch_requests(self, plural: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.watch and (plural is None or r.path.endswith(plural))]

    def list_requests(self, plural: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if not r.watch
            and r.path.startswith("/api")
            and r.path.split("/")[-1] in KINDS
            and (plural is None or r.path.endswith(plural))
        ]

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        obj = self._objects[plural].get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def create(self, obj: Obj) -> Obj:
        kind = _BY_KIND[obj["kind"]]
        body = copy.deepcopy(obj)
        key = _key(body)
        if key in self._objects[kind.plural]:
            raise ValueError(f"{kind.plural} {key} already exists")
        meta = body["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        return self._commit(kind, "ADDED", body, None)

    def update(self, obj: Obj) -> Obj:
        kind = _BY_KIND[obj["kind"]]
        body = copy.deepcopy(obj)
        prev = self._objects[kind.plural].get(_key(body))
        if prev is None:
            raise KeyError(f"{kind.plural} {_key(body)} not found")
        for field in ("uid", "creationTimestamp"):
            body["metadata"][field] = prev["metadata"][field]
        return self._commit(kind, "MODIFIED", body, prev)

    def apply(self, obj: Obj) -> Obj:
        """Create or update."""
        kind = _BY_KIND[obj["kind"]]
        if _key(obj) in self._objects[kind.plural]:
            return self.update(obj)
        return self.create(obj)

    def delete(self, obj: Obj) -> Obj:
        kind = _BY_KIND[obj["kind"]]
        prev = self._objects[kind.plural].get(_key(obj))
        if prev is None:
            raise KeyError(f"{kind.plural} {_key(obj)} not found")
        return self._commit(kind, "DELETED", copy.deepcopy(prev), prev)

    def _commit(self, kind: Kind, event: str, body: Obj, prev: Obj | None) -> Obj:
        self.rv += 1
        body.pop("kind", None)
        body.pop("apiVersion", None)
        body["metadata"]["resourceVersion"] = str(self.rv)
        store = self._objects[kind.plural]
        if event == "DELETED":
            del store[_key(body)]
        else:
            store[_key(body)] = body
        self._history.append(_Record(self.rv, kind.plural, event, body, prev))
        self._history_rvs.append(self.rv)
        self._notify()
        return {"kind": kind.kind, "apiVersion": kind.api_version, **copy.deepcopy(body)}

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _state_at(self, plural: str, rv: int) -> dict[Key, Obj]:
        """The objects of a kind as they were at revision ``rv`` (history must reach back)."""
        state = dict(self._objects[plural])
        for record in reversed(self._history):
            if record.rv <= rv:
                break
            if record.plural != plural:
                continue
            if record.type == "ADDED":
                state.pop(_key(record.obj), None)
            else:
                assert record.prev is not None
                state[_key(record.prev)] = record.prev
        return state

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        context: str = "fake",
    ) -> Path:
        """Write a real kubeconfig for this server; the user has ``token`` or ``tokenFile``."""
        user: Obj = {}
        if token_file is not None:
            user["tokenFile"] = str(token_file)
        elif token is not None or self.token is not None:
            user["token"] = token if token is not None else self.token
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "kdns", "user": user}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": "fake-cluster", "user": "kdns", "namespace": "default"},
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        path = Path(path)
        path.write_text(yaml.safe_dump(config))
        return path

    # --- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        record = Request(request.method, request.path, query)
        self.requests.append(record)
        if self.on_request is not None:
            self.on_request(record)
        # The scheme is case-insensitive (RFC 7235); the in-cluster loader sends "bearer".
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if self.token is not None and (scheme.lower() != "bearer" or given != self.token):
            return _json(401, _status(401, "Unauthorized", "Unauthorized"))
        parts = [p for p in request.path.split("/") if p]
        if request.path == "/version":
            return _json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-kdns-fake"})
        if parts == ["api"]:
            return _json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            group = {
                "name": "discovery.k8s.io",
                "versions": [{"groupVersion": "discovery.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "discovery.k8s.io/v1", "version": "v1"},
            }
            return _json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})
        routed = self._route(parts)
        if routed is None or request.method != "GET":
            return _json(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
        kind, namespace = routed
        watching = query.get("watch") in ("1", "true")
        verb = "watch" if watching else "list"
        if kind.plural in self._forbidden:
            return _json(403, self._forbidden_status(kind, verb, namespace))
        try:
            match = selectors.matcher(
                query.get("labelSelector"), query.get("fieldSelector"), kind.fields
            )
        except selectors.SelectorError as err:
            return _json(400, _status(400, "BadRequest", str(err)))

        def selected(obj: Obj) -> bool:
            in_ns = namespace is None or obj["metadata"].get("namespace") == namespace
            return in_ns and match(obj)

        if watching:
            return await self._watch(request, kind, selected, query)
        return self._list(kind, selected, query)

    def _route(self, parts: list[str]) -> tuple[Kind, str | None] | None:
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
            group = ""
        elif len(parts) >= 3 and parts[0] == "apis":
            rest = parts[3:]
            group = parts[1]
            if parts[2] != "v1":
                return None
        else:
            return None
        namespace = None
        if len(rest) == 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) != 1:
            return None
        kind = KINDS.get(rest[0])
        if kind is None or kind.group != group or (namespace is not None and not kind.namespaced):
            return None
        return kind, namespace

    def _forbidden_status(self, kind: Kind, verb: str, namespace: str | None) -> Obj:
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f'{kind.qualified} is forbidden: User "{USER}" cannot {verb} resource '
            f'"{kind.plural}" in API group "{kind.group}" {scope}'
        )
        details = {"kind": kind.plural}
        if kind.group:
            details["group"] = kind.group
        return _status(403, "Forbidden", message, details)

    def _expired(self, rv: int) -> Obj:
        return _status(410, "Expired", f"too old resource version: {rv} ({self._compacted_rv})")

    def _too_large(self, rv: int) -> Obj:
        # apimachinery's NewTooLargeResourceVersionError: a NewTimeoutError with a cause.
        message = f"Timeout: Too large resource version: {rv}, current: {self.rv}"
        cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
        return _status(504, "Timeout", message, {"causes": [cause], "retryAfterSeconds": 1})

    def _list(
        self, kind: Kind, selected: Callable[[Obj], bool], query: dict[str, str]
    ) -> web.Response:
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        start = ""
        if token:
            decoded = decode_continue(token)
            if decoded is None:
                return _json(400, _status(400, "BadRequest", "continue key is not valid"))
            rv, start = decoded
            if rv < self._compacted_rv:
                message = (
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter."
                )
                return _json(410, _status(410, "Expired", message))
            state = self._state_at(kind.plural, rv)
        else:
            rv = self.rv
            state = self._objects[kind.plural]
            if query.get("resourceVersion") == "0":
                limit = 0  # served from the watch cache, which ignores limit
        # Items come in etcd key order ("namespace/name"); a page resumes after its last key.
        ordered = sorted((f"{k[0]}/{k[1]}", k) for k in state)
        keys = [k for skey, k in ordered if not start or skey > start]
        items: list[Obj] = []
        more = False
        for key in keys:
            obj = state[key]
            if not selected(obj):
                continue
            if limit and len(items) == limit:
                more = True
                break
            items.append(copy.deepcopy(obj))
        meta: Obj = {"resourceVersion": str(rv)}
        if more:
            meta["continue"] = encode_continue(rv, items[-1])
        body = {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": meta,
            "items": items,
        }
        return _json(200, body)

    def _event(self, kind: Kind, event: str, obj: Obj) -> bytes:
        full = {"kind": kind.kind, "apiVersion": kind.api_version, **obj}
        return json.dumps({"type": event, "object": full}).encode() + b"\n"

    def _pending(
        self, kind: Kind, selected: Callable[[Obj], bool], after: int, upto: int
    ) -> Iterable[bytes]:
        start = bisect.bisect_right(self._history_rvs, after)
        for record in self._history[start:]:
            if record.rv > upto:
                break
            if record.plural != kind.plural:
                continue
            now = selected(record.obj)
            before = record.prev is not None and selected(record.prev)
            if record.type == "ADDED" and now:
                yield self._event(kind, "ADDED", record.obj)
            elif record.type == "DELETED" and before:
                yield self._event(kind, "DELETED", record.obj)
            elif record.type == "MODIFIED":
                if now and before:
                    yield self._event(kind, "MODIFIED", record.obj)
                elif now:
                    yield self._event(kind, "ADDED", record.obj)
                elif before:
                    # The real watch cache reports an object leaving the selection as DELETED.
                    yield self._event(kind, "DELETED", record.obj)

    async def _watch(
        self,
        request: web.Request,
        kind: Kind,
        selected: Callable[[Obj], bool],
        query: dict[str, str],
    ) -> web.StreamResponse:
        rv_param = query.get("resourceVersion") or "0"
        try:
            start_rv = int(rv_param)
        except ValueError:
            return _json(400, _status(400, "BadRequest", f"invalid resource version: {rv_param}"))
        expired = start_rv != 0 and start_rv < self._compacted_rv
        if expired and self.expired_as_http:
            return _json(410, self._expired(start_rv))
        if start_rv > self.rv and self.too_large_as_http:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.too_large_wait):
                    while start_rv > self.rv:
                        await self._wakeup.wait()
            if start_rv > self.rv:
                return _json(504, self._too_large(start_rv))
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        bookmarks = query.get("allowWatchBookmarks") == "true"

        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        watch = _Watch(kind.plural, request)
        self._watches.add(watch)
        try:
            if expired:
                error = {"type": "ERROR", "object": self._expired(start_rv)}
                await response.write(json.dumps(error).encode() + b"\n")
                await response.write_eof()
                return response
            if start_rv == 0:
                # "Start at most recent": synthetic ADDED for the current state, then changes.
                position = self.rv
                current = self._objects[kind.plural]
                for _, key in sorted((f"{k[0]}/{k[1]}", k) for k in current):
                    obj = current[key]
                    if selected(obj):
                        await response.write(self._event(kind, "ADDED", obj))
            else:
                position = start_rv
            next_bookmark = time.monotonic() + self.bookmark_interval
            while not watch.dropped and not self._stopping:
                wakeup = self._wakeup
                if not watch.stalled:
                    if position < self._compacted_rv:
                        # Compacted while this watcher lagged behind: it must relist.
                        error = {"type": "ERROR", "object": self._expired(position)}
                        await response.write(json.dumps(error).encode() + b"\n")
                        break
                    upto = self.rv
                    for line in list(self._pending(kind, selected, position, upto)):
                        await response.write(line)
                    # A watch from a revision not reached yet stays there (waits for it).
                    position = max(position, upto)
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    if bookmarks and now >= next_bookmark:
                        # Bookmarks never go below the watcher's revision: none while waiting.
                        if position <= self.rv:
                            bookmark = {
                                "kind": kind.kind,
                                "apiVersion": kind.api_version,
                                "metadata": {"resourceVersion": str(position)},
                            }
                            line = json.dumps({"type": "BOOKMARK", "object": bookmark}).encode()
                            await response.write(line + b"\n")
                        next_bookmark = now + self.bookmark_interval
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), timeout=max(0.0, min(wait, 0.1)))
            if not watch.dropped and not self._stopping:
                await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away, or we cut the stream on purpose
        finally:
            self._watches.discard(watch)
        return response


def _json(status: int, body: Obj) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


# --- builders of realistic objects ------------------------------------------------------------


def _meta(name: str, namespace: str | None, labels: Mapping[str, str] | None) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


def service(
    name: str,
    ns: str = "default",
    *,
    cluster_ips: Iterable[str] = ("10.96.0.10",),
    ports: Iterable[Mapping[str, Any]] = ({"name": "http", "port": 80, "protocol": "TCP"},),
    type: str = "ClusterIP",
    external_name: str | None = None,
    labels: Mapping[str, str] | None = None,
    publish_not_ready: bool = False,
) -> Obj:
    """A Service as the API returns it; ``cluster_ips=["None"]`` makes it headless."""
    ips = list(cluster_ips)
    spec: Obj = {"type": type, "sessionAffinity": "None"}
    if type == "ExternalName":
        spec["externalName"] = external_name or "example.com"
    else:
        families = ["IPv6" if ":" in ip else "IPv4" for ip in ips if ip != "None"] or ["IPv4"]
        spec.update(
            clusterIP=ips[0] if ips else "",
            clusterIPs=ips,
            ipFamilies=families,
            ipFamilyPolicy="PreferDualStack" if len(families) > 1 else "SingleStack",
            internalTrafficPolicy="Cluster",
            selector={"app": name},
        )
    port_list = []
    for port in ports:
        entry = {"protocol": "TCP", "targetPort": port.get("port"), **port}
        port_list.append(entry)
    if port_list:
        spec["ports"] = port_list
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": _meta(name, ns, labels),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def endpoint(
    *addresses: str,
    ready: bool | None = True,
    hostname: str | None = None,
    pod: str | None = None,
    ns: str = "default",
    node: str = "node-1",
) -> Obj:
    """One entry of ``endpoints[]``; ``ready=None`` leaves the condition unset."""
    conditions: Obj = {}
    if ready is not None:
        conditions = {"ready": ready, "serving": ready, "terminating": False}
    entry: Obj = {"addresses": list(addresses), "conditions": conditions, "nodeName": node}
    if hostname:
        entry["hostname"] = hostname
    if pod:
        entry["targetRef"] = {"kind": "Pod", "namespace": ns, "name": pod, "uid": str(uuid.uuid4())}
    return entry


def endpoint_slice(
    name: str,
    ns: str = "default",
    *,
    service: str | None,
    address_type: str = "IPv4",
    endpoints: Iterable[Mapping[str, Any]] = (),
    ports: Iterable[Mapping[str, Any]] = ({"name": "http", "port": 80, "protocol": "TCP"},),
    labels: Mapping[str, str] | None = None,
) -> Obj:
    """An EndpointSlice labelled for ``service`` (``None`` leaves the label off)."""
    all_labels = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    if service is not None:
        all_labels["kubernetes.io/service-name"] = service
    all_labels.update(labels or {})
    meta = _meta(name, ns, all_labels)
    if service is not None:
        meta["generateName"] = f"{service}-"
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": service,
                "uid": str(uuid.uuid4()),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": meta,
        "addressType": address_type,
        "endpoints": [dict(e) for e in endpoints] or None,
        "ports": [{"protocol": "TCP", **p} for p in ports] or None,
    }


def pod(
    name: str,
    ns: str = "default",
    *,
    ip: str | None = "10.244.0.5",
    phase: str = "Running",
    deleting: bool = False,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    meta = _meta(name, ns, labels)
    if deleting:
        meta["deletionTimestamp"] = _now()
        meta["deletionGracePeriodSeconds"] = 30
    status: Obj = {"phase": phase}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": meta,
        "spec": {
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}],
            "nodeName": "node-1",
        },
        "status": status,
    }


def namespace(name: str, labels: Mapping[str, str] | None = None) -> Obj:
    all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": _meta(name, None, all_labels),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def encode_continue(rv: int, last: Obj) -> str:
    """The ``continue`` token of a page ending with ``last``, as the real API server makes it
    (base64 JSON: the list's resourceVersion and the key to resume after)."""
    namespace, name = _key(last)
    cont = {"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}\x00"}
    return base64.urlsafe_b64encode(json.dumps(cont).encode()).decode()


def decode_continue(token: str) -> tuple[int, str] | None:
    """A ``continue`` token this server issued: (resourceVersion, name to resume after); None
    when it is not one."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(decoded["rv"]), str(decoded["start"])
    except (ValueError, KeyError, TypeError):
        return None
