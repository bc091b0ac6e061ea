"""Keeping a store in sync with one API resource: three layers, as kopf's ``watching.py``.

* :func:`stream_events` is one streaming watch request. It owns the inactivity timeout: a
  stream that delivers neither events nor bookmarks for ``inactivity_timeout`` seconds is torn
  down (:class:`errors.StreamStalled`). A half-open TCP connection or a stuck proxy otherwise
  leaves the cache silently stale forever, because nothing resyncs it (lf-edge/eve#6113).
* :func:`continuous_watch` lists (paged) and reconciles into the store, then watches from the
  list's resourceVersion with bookmarks, advancing the resourceVersion on every event and
  bookmark and re-watching from it whenever a stream ends. It returns only when the
  resourceVersion has expired (410), which means events were lost, or has gone backwards: the
  caller relists.
* :func:`infinite_watch` never ends: it retries after errors with capped, jittered exponential
  backoff, reloads credentials after a 401 and reports each problem once per change of state.

The resourceVersion lives in a :class:`WatchState` owned by the infinite loop, so a dropped
connection or a restarted API server resumes the watch from the last revision without a relist;
only a 410 or a revision that went backwards forces one.

A revision goes backwards when etcd is restored from a backup without bumping its revision.
Our last revision is then newer than anything the server has, and a watch from it never
delivers the restored state: etcd (and older watch caches) wait for that revision, so the
stream stays silent; newer watch caches answer 504 "Too large resource version". Both are
detected, as is an event or list whose revision is lower than one already seen, and lead to a
relist that reconciles the store as after a 410. A silent stream is told apart from a dead
connection by asking the server for its current revision (a one-item list).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import aiohttp

from kdns.kube import client as kclient
from kdns.kube import errors, objects, resources, store

logger = logging.getLogger("kdns.plugin.kubernetes")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Timing and sizing of the watch loops."""

    #: Seconds without any event or bookmark after which a stream is considered stalled. The
    #: API server sends bookmarks about once a minute, so kopf's 70 s (a little more than one
    #: bookmark period) notices a dead stream without false alarms on a quiet cluster.
    inactivity_timeout: float = 70.0
    #: ``limit`` of each list page; a relist never holds more than one page of raw JSON.
    page_size: int = 500
    #: The ``timeoutSeconds`` of each watch is drawn from this range, as client-go does (5 to
    #: 10 minutes), so that many clients do not reconnect in lockstep.
    watch_timeout: tuple[float, float] = (300.0, 600.0)
    #: First retry delay after an error; it doubles on each further error.
    backoff_base: float = 0.5
    #: Largest retry delay.
    backoff_cap: float = 30.0


@dataclasses.dataclass
class WatchState:
    """What survives between attempts: the last resourceVersion seen, and the verb in flight."""

    #: The revision to watch from; ``None`` means a (re)list is needed.
    resource_version: str | None = None
    #: ``list`` or ``watch``: what the loop was doing when an error came (for messages).
    verb: str = "list"
    #: The newest revision ever seen, kept across relists to notice one that goes back.
    newest: str | None = None

    def advance(self, revision: str) -> None:
        self.resource_version = revision
        if self.newest is None or not is_older(self.newest, revision):
            self.newest = revision


def is_older(revision: str, than: str) -> bool:
    """True when ``revision`` is numerically lower than ``than``.

    resourceVersions are opaque to clients, but every API server backed by etcd hands out
    etcd's revision, a growing integer; anything else is never called older.
    """
    try:
        return int(revision) < int(than)
    except ValueError:
        return False


class Backoff:
    """Capped exponential backoff with full jitter; :meth:`reset` after a success."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self._base = base
        self._cap = cap
        self._attempt = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self._cap, self._base * (1 << self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        # Half fixed, half random: bounded below so a flapping server is not hammered.
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


# --- layer 1: one streaming request ----------------------------------------------------------


async def stream_events(
    api: kclient.Client,
    path: str,
    params: Mapping[str, str],
    *,
    inactivity_timeout: float,
) -> AsyncIterator[objects.RawEvent]:
    """Yield the events of one watch request until the server ends the stream.

    Lines are split here rather than with ``StreamReader.readline``, whose line limit (128 KiB)
    is smaller than one event of a large EndpointSlice.

    :raises errors.StreamStalled: nothing arrived within ``inactivity_timeout`` seconds.
    :raises errors.APIError: the request was answered with an error status.
    """
    async with api.stream(path, params) as response:
        buffer = bytearray()
        while True:
            try:
                async with asyncio.timeout(inactivity_timeout):
                    chunk = await response.content.readany()
            except TimeoutError:
                raise errors.StreamStalled(
                    f"no event or bookmark for {inactivity_timeout:g}s"
                ) from None
            if not chunk:
                break
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n", start)) >= 0:
                line = bytes(buffer[start:end])
                start = end + 1
                if line.strip():
                    yield json.loads(line)
            del buffer[:start]
        if buffer.strip():
            yield json.loads(bytes(buffer))


# --- layer 2: list, then watch from the list's resourceVersion --------------------------------


async def relist(
    api: kclient.Client,
    resource: resources.Resource,
    sink: store.Sink,
    *,
    params: Mapping[str, str],
    page_size: int,
) -> str:
    """List the resource page by page into ``sink`` and reconcile; return the list's revision.

    Each page is applied as it arrives, crossing listed keys off the keys cached before the
    list; whatever remains uncrossed at the end was deleted meanwhile and is removed. The store
    is never copied: a relist costs one page of raw JSON and about 9 bytes per cached object on
    top of the steady state (a full second copy is what OOM-killed CoreDNS on API
    restarts, kubernetes/kubernetes#139117). Objects that did not change cause no notification.

    The list is a consistent read (no ``resourceVersion``), so paging works and all pages come
    from one snapshot. If the continue token expires between pages (410), the list restarts.
    """
    path = resource.path()
    while True:
        unseen = sink.keys()
        token: str | None = None
        try:
            while True:
                page_params = {**params, "limit": str(page_size)}
                if token:
                    page_params["continue"] = token
                body = await api.get_json(path, page_params)
                items: list[objects.RawObject] = body.get("items") or []
                items.reverse()
                while items:
                    # Popping drops each raw object as soon as it is converted.
                    item = items.pop()
                    unseen.discard(objects.key_of(item))
                    sink.upsert(item)
                meta = body.get("metadata") or {}
                token = meta.get("continue") or None
                if token is None:
                    sink.remove_keys(unseen)
                    return str(meta.get("resourceVersion") or "")
        except errors.Gone:
            if token is None:
                raise
            logger.info(
                "plugin/kubernetes: list of %s expired between pages; listing again",
                resource.qualified,
            )


async def continuous_watch(
    api: kclient.Client,
    resource: resources.Resource,
    sink: store.Sink,
    state: WatchState,
    *,
    settings: Settings,
    params: Mapping[str, str],
    on_progress: Callable[[], None] = lambda: None,
    rng: random.Random | None = None,
) -> None:
    """List if needed, then watch and re-watch from the last revision; return on expiry (410).

    ``on_progress`` is called whenever the API answered usefully (a list completed, an event
    arrived), so the caller can reset its backoff. Errors propagate; ``state`` keeps the
    revision so that the next call resumes the watch instead of relisting.
    """
    rng = rng or random.Random()
    if state.resource_version is None:
        state.verb = "list"
        listed = await relist(api, resource, sink, params=params, page_size=settings.page_size)
        if state.newest is not None and is_older(listed, state.newest):
            logger.warning(
                "plugin/kubernetes: resourceVersion of %s went back from %s to %s "
                "(API server restored from a backup?); cache reconciled with the new list",
                resource.qualified,
                state.newest,
                listed,
            )
            state.newest = None
        state.advance(listed)
        sink.mark_synced()
        on_progress()
    path = resource.path()
    while True:
        state.verb = "watch"
        # Listed above, or advanced by the last watch: a relist is needed only after a return.
        revision = state.resource_version
        assert revision is not None
        low, high = settings.watch_timeout
        watch_params = {
            **params,
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": revision,
            "timeoutSeconds": str(int(rng.uniform(low, high))),
        }
        delivered = 0
        started = time.monotonic()
        try:
            async for event in stream_events(
                api, path, watch_params, inactivity_timeout=settings.inactivity_timeout
            ):
                delivered += 1
                if not _apply(resource, sink, state, event):
                    return
                on_progress()
        except errors.Gone:
            # The revision we asked for is older than the server's history: relist.
            logger.info(
                "plugin/kubernetes: watch of %s expired (410 Gone); relisting", resource.qualified
            )
            state.resource_version = None
            return
        except errors.APIError as err:
            if not errors.is_too_large_resource_version(err):
                raise
            _went_back(resource, state, err.message or "too large resource version")
            return
        except errors.StreamStalled as err:
            current = await _current_revision(api, path, params)
            revision = state.resource_version
            assert revision is not None  # _apply returned False had it cleared the revision
            if is_older(current, revision):
                _went_back(resource, state, f"the server is at {current}")
                return
            logger.warning(
                "plugin/kubernetes: watch of %s stalled (%s); watching again from %s",
                resource.qualified,
                err,
                state.resource_version,
            )
            continue
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as err:
            if not delivered:
                raise
            logger.debug(
                "plugin/kubernetes: watch of %s cut (%s); watching again from %s",
                resource.qualified,
                err,
                state.resource_version,
            )
            continue
        if not delivered and time.monotonic() - started < 1.0:
            # A stream that ends at once with nothing in it would make us spin; back off.
            raise errors.KubeError(f"watch of {resource.qualified} ended immediately")


async def _current_revision(api: kclient.Client, path: str, params: Mapping[str, str]) -> str:
    """The server's current revision: that of a consistent one-item list."""
    body = await api.get_json(path, {**params, "limit": "1"})
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


def _went_back(resource: resources.Resource, state: WatchState, why: str) -> None:
    logger.warning(
        "plugin/kubernetes: watch of %s cannot resume from resourceVersion %s (%s; "
        "API server restored from a backup?); relisting",
        resource.qualified,
        state.resource_version,
        why,
    )
    state.resource_version = None


def _apply(
    resource: resources.Resource, sink: store.Sink, state: WatchState, event: objects.RawEvent
) -> bool:
    """Apply one event; False when our revision expired or went back: the caller relists."""
    kind = event.get("type")
    obj = event.get("object") or {}
    if kind == "ERROR":
        status = obj if isinstance(obj, dict) else {}
        code = status.get("code")
        err = errors.from_status(code if isinstance(code, int) else 500, status)
        if isinstance(err, errors.Gone):
            # "too old resource version": the server no longer has the events after our
            # revision, so some changes are lost for good; only a fresh list can recover.
            logger.info(
                "plugin/kubernetes: watch of %s expired (%s); relisting",
                resource.qualified,
                err.message or "410 Gone",
            )
            state.resource_version = None
            return False
        raise err
    if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
        logger.warning(
            "plugin/kubernetes: ignoring unknown watch event type %r for %s",
            kind,
            resource.qualified,
        )
        return True
    revision = (obj.get("metadata") or {}).get("resourceVersion")
    if revision and state.resource_version and is_older(str(revision), state.resource_version):
        _went_back(resource, state, f"an event came at {revision}")
        return False
    if kind in ("ADDED", "MODIFIED"):
        sink.upsert(obj)
    elif kind == "DELETED":
        sink.delete(obj)
    if revision:
        state.advance(str(revision))
    return True


# --- layer 3: forever, with backoff -----------------------------------------------------------


class _Reporter:
    """Logs a problem once when it starts or changes, and once when it clears."""

    def __init__(self, resource: resources.Resource) -> None:
        self._resource = resource
        self._problem: str | None = None

    def report(
        self, problem: str, level: int, message: str, *args: object, exc_info: bool = False
    ) -> None:
        if problem == self._problem:
            logger.debug(message, *args)
            return
        self._problem = problem
        logger.log(level, message, *args, exc_info=exc_info)

    def recovered(self) -> None:
        if self._problem is not None:
            self._problem = None
            logger.info("plugin/kubernetes: watching %s again", self._resource.qualified)


_RETRYABLE = (
    aiohttp.ClientError,
    OSError,
    TimeoutError,
    ValueError,  # malformed JSON from a proxy in between
    errors.KubeError,
)


async def infinite_watch(
    api: kclient.Client,
    resource: resources.Resource,
    sink: store.Sink,
    *,
    settings: Settings,
    params: Mapping[str, str],
    iterations: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> None:
    """Keep ``sink`` in sync with ``resource`` until cancelled (or ``iterations`` attempts).

    Never raises for API trouble: the store keeps serving the last known data while this loop
    reconnects. "Made as simple as possible", as kopf says of its own.
    """
    state = WatchState()
    backoff = Backoff(settings.backoff_base, settings.backoff_cap, rng)
    reporter = _Reporter(resource)

    def progress() -> None:
        backoff.reset()
        reporter.recovered()

    attempt = 0
    while iterations is None or attempt < iterations:
        attempt += 1
        try:
            await continuous_watch(
                api,
                resource,
                sink,
                state,
                settings=settings,
                params=params,
                on_progress=progress,
                rng=rng,
            )
            continue  # expired: relist at once
        except errors.Unauthorized as err:
            reporter.report(
                "unauthorized",
                logging.WARNING,
                "plugin/kubernetes: cannot %s %s: unauthorized (%s); reloading credentials",
                state.verb,
                resource.qualified,
                err.message or "401",
            )
            await api.reload()
        except errors.Forbidden:
            reporter.report(
                "forbidden",
                logging.ERROR,
                'plugin/kubernetes: cannot %s %s: forbidden; grant list,watch on %s in API group "%s"',
                state.verb,
                resource.qualified,
                resource.plural,
                resource.group,
            )
        except errors.APIError as err:
            reporter.report(
                f"api-{err.status}",
                logging.WARNING,
                "plugin/kubernetes: cannot %s %s: %s",
                state.verb,
                resource.qualified,
                err,
            )
        except _RETRYABLE as err:
            reporter.report(
                f"failure-{type(err).__name__}",
                logging.WARNING,
                "plugin/kubernetes: cannot %s %s: %s",
                state.verb,
                resource.qualified,
                str(err) or type(err).__name__,
            )
        except Exception as err:
            # A bug or an object shaped unlike anything we expected; the data plane must not
            # stop over it, so log with the traceback and carry on like any other failure.
            reporter.report(
                f"bug-{type(err).__name__}",
                logging.ERROR,
                "plugin/kubernetes: unexpected failure watching %s: %r",
                resource.qualified,
                err,
                exc_info=True,
            )
        await sleep(backoff.next_delay())
