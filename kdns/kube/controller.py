"""The Kubernetes cache as one object: options, client, store, one guarded task per resource.

Namespace filtering (the ``namespaces`` option) is done by watching cluster-wide and dropping
objects of other namespaces on ingest, not by one watch per namespace. That is what CoreDNS does
(its ClusterRole is cluster-wide anyway), it keeps one connection per resource whatever the
number of namespaces, and dropped objects cost no memory. Pods are the exception: they are kept
from every namespace because autopath must find the client's namespace even when that namespace
is not exposed (coredns/coredns#1232).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine
from typing import Any, Literal

from kdns.kube import client as kclient
from kdns.kube import resources, store, watch

logger = logging.getLogger("kdns.plugin.kubernetes")

#: The field selector CoreDNS puts on its pod watch: terminal pods have no DNS records.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"

_DEFAULTS = watch.Settings()

PodsMode = Literal["disabled", "insecure", "verified"]


@dataclasses.dataclass(frozen=True, slots=True)
class KubeOptions:
    """The knobs of the ``kubernetes`` directive that concern the cache, plus test timings."""

    #: ``endpoint URL``: API server URL used when there is no kubeconfig.
    endpoint: str | None = None
    #: ``tls CERT KEY CACERT`` for ``endpoint``.
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    #: ``kubeconfig FILE [CONTEXT]``; takes precedence over ``endpoint``.
    kubeconfig: str | None = None
    context: str | None = None
    #: ``namespaces NS...``: only these namespaces exist (empty: all).
    namespaces: frozenset[str] = frozenset()
    #: ``labels SELECTOR``: labelSelector for Services, EndpointSlices and Pods.
    labels: str | None = None
    #: ``namespace_labels SELECTOR``: labelSelector for Namespaces.
    namespace_labels: str | None = None
    #: ``pods``: only ``verified`` watches pods.
    pods_mode: PodsMode = "disabled"
    #: ``noendpoints``: do not watch EndpointSlices.
    noendpoints: bool = False
    #: Seconds without events or bookmarks before a watch is re-established.
    inactivity_timeout: float = _DEFAULTS.inactivity_timeout
    #: Retry delays after errors: first, and largest.
    backoff_base: float = _DEFAULTS.backoff_base
    backoff_cap: float = _DEFAULTS.backoff_cap
    #: ``limit`` of list pages.
    page_size: int = _DEFAULTS.page_size
    #: Range of the watch ``timeoutSeconds``.
    watch_timeout: tuple[float, float] = _DEFAULTS.watch_timeout
    #: Seconds to connect, and for one list page.
    connect_timeout: float = 10.0
    request_timeout: float = 60.0

    @property
    def source(self) -> kclient.Source:
        return kclient.Source(
            kubeconfig=self.kubeconfig,
            context=self.context,
            endpoint=self.endpoint,
            tls_cert=self.tls_cert,
            tls_key=self.tls_key,
            tls_ca=self.tls_ca,
        )

    @property
    def settings(self) -> watch.Settings:
        return watch.Settings(
            inactivity_timeout=self.inactivity_timeout,
            page_size=self.page_size,
            watch_timeout=self.watch_timeout,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
        )

    def watched(self) -> tuple[resources.Resource, ...]:
        """The resources this configuration needs, in start order."""
        wanted = [resources.SERVICES]
        if not self.noendpoints:
            wanted.append(resources.ENDPOINTSLICES)
        wanted.append(resources.NAMESPACES)
        if self.pods_mode == "verified":
            wanted.append(resources.PODS)
        return tuple(wanted)

    def params(self, resource: resources.Resource) -> dict[str, str]:
        """The selectors sent with every list and watch of ``resource``."""
        params: dict[str, str] = {}
        if resource == resources.NAMESPACES:
            if self.namespace_labels:
                params["labelSelector"] = self.namespace_labels
            return params
        if self.labels:
            params["labelSelector"] = self.labels
        if resource == resources.PODS:
            params["fieldSelector"] = POD_FIELD_SELECTOR
        return params


class Controller:
    """Owns the API client, the :class:`store.Store` and the watch tasks.

    :param options: what to watch and how.
    :param cache: a store to fill (a fresh one matching ``options`` by default).
    """

    def __init__(self, options: KubeOptions, *, cache: store.Store | None = None) -> None:
        self.options = options
        self.resources = options.watched()
        self.store = cache or store.Store(
            watched=[store.as_kind(r.plural) for r in self.resources],
            namespaces=options.namespaces or None,
        )
        self.client = kclient.Client(
            options.source,
            connect_timeout=options.connect_timeout,
            request_timeout=options.request_timeout,
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Load the connection settings and start watching; returns without waiting for sync.

        :raises client.ConfigLoadError: the kubeconfig or in-cluster settings cannot be loaded.
        """
        if self._tasks:
            return
        await self.client.open()
        logger.info(
            "plugin/kubernetes: watching %s via %s",
            ", ".join(r.qualified for r in self.resources),
            self.client.source.describe(),
        )
        settings = self.options.settings
        for resource in self.resources:
            coro = watch.infinite_watch(
                self.client,
                resource,
                self.store.sink(store.as_kind(resource.plural)),
                settings=settings,
                params=self.options.params(resource),
            )
            self._tasks.append(_guarded(coro, name=f"kdns-kube-watch-{resource.plural}"))

    async def stop(self) -> None:
        """Cancel the watch tasks, wait for them, close the HTTP session."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.close()

    def ready(self) -> bool:
        """True once every watched resource has been listed once; never false again after."""
        return self.store.has_synced()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :meth:`ready` (CoreDNS's startup wait)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ready():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.05, remaining))
        return True


def _guarded(coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
    """A named task that logs at once if it fails or, being meant to run forever, returns."""

    async def guard() -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            # Logged here, at once, rather than when (if ever) somebody awaits the task.
            logger.exception("plugin/kubernetes: task %s failed", name)
        else:
            logger.warning("plugin/kubernetes: task %s ended unexpectedly", name)

    return asyncio.create_task(guard(), name=name)
