"""A relist reconciles in place: its peak memory stays well under 30 % above the steady state.

CoreDNS's informers build a second full copy of the cache on relist, roughly doubling memory,
which OOM-killed DNS pods when API servers restarted (kubernetes/kubernetes#139117). Here the
store is updated page by page and only a set of existing keys is added.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

from kdns.kube import resources, store, watch

PODS = 20_000
PAGE = 500


def _page(start: int) -> bytes:
    items = [
        {
            "metadata": {
                "name": f"pod-{i:06d}",
                "namespace": f"ns-{i % 50}",
                "uid": f"{i:036d}",
                "resourceVersion": str(1000 + i),
                "labels": {"app": f"app-{i % 300}", "pod-template-hash": "5d4f8b7c9"},
            },
            "spec": {"nodeName": f"node-{i % 100}", "containers": [{"name": "app"}]},
            "status": {"phase": "Running", "podIP": f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"},
        }
        for i in range(start, min(start + PAGE, PODS))
    ]
    meta = {"resourceVersion": "99999"}
    if start + PAGE < PODS:
        meta["continue"] = str(start + PAGE)
    return json.dumps({"kind": "PodList", "metadata": meta, "items": items}).encode()


class PagedList:
    """A client answering list pages from pre-rendered bytes, decoded per request like aiohttp."""

    def __init__(self) -> None:
        self.pages = {start: _page(start) for start in range(0, PODS, PAGE)}

    async def get_json(self, path: str, params: dict[str, str]) -> object:
        return json.loads(self.pages[int(params.get("continue") or 0)])


async def test_relist_peak_memory_is_within_30_percent_of_the_store():
    api = PagedList()
    cache = store.Store()
    sink = cache.sink("pods")
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await watch.relist(api, resources.PODS, sink, params={}, page_size=PAGE)  # type: ignore[arg-type]
        gc.collect()
        steady = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        await watch.relist(api, resources.PODS, sink, params={}, page_size=PAGE)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert cache.counts()["pods"] == PODS
    assert peak <= 1.3 * steady, f"steady {steady / 1e6:.1f} MB, relist peak {peak / 1e6:.1f} MB"
