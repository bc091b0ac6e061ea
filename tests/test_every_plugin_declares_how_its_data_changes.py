"""Every plugin of the registry that serves queries declares how its data changes (``lease``,
``kdns.replay``), or its routes never replay; and each plugin with changing data has a test
proving that a change reaches a query replayed before it."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from kdns import config, corefile, plugins, replay
from kdns.request import Request

ROOT = Path(__file__).resolve().parents[1]
ZONE = "zone: example.test\nrecords:\n  web: {A: 10.0.0.1}\n"
REPLAYED = "tests/server/test_replayed_replies.py"
KUBEADM = "tests/integration/test_kubeadm_corefiles_replay_and_follow_the_watch.py"
PER_SERVICE = "tests/plugins/kubernetes/test_replay_leases_follow_each_service.py"
FILE = "tests/plugins/file/test_file_serves_zone_files.py"
RRL = "tests/plugins/rrl/test_rrl_limits_per_client.py"

#: plugin -> (a directive that puts it in a chain, whether that chain replays, the tests that
#: prove a change of the plugin's data reaches a replayed query: none for plugins whose
#: decisions depend on the query alone or that never replay).
DECLARED: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "prometheus": ("prometheus 127.0.0.1:0", True, ()),
    "errors": ("errors", True, ()),
    "log": ("log", False, ()),
    "acl": ("acl {\n        allow net 127.0.0.0/8\n    }", False, ()),
    "chaos": ("chaos", True, ()),
    "loadbalance": ("loadbalance", True, (f"{REPLAYED}::test_loadbalance_rotations_replay",)),
    "cache": (
        "cache 30",
        True,
        (
            f"{KUBEADM}::test_a_deleted_service_is_nxdomain_within_the_watch_not_the_ttl",
            f"{REPLAYED}::test_a_replayed_cache_hit_counts_its_ttl_down",
        ),
    ),
    "autopath": ("autopath TMP/resolv.conf", False, ()),
    "hosts": (
        "hosts hosts.txt {\n        fallthrough\n    }",
        True,
        (f"{REPLAYED}::test_a_name_added_to_hosts_before_records_reaches_a_replayed_query",),
    ),
    "kubernetes": (
        "",
        True,
        (
            f"{KUBEADM}::test_a_deleted_service_is_nxdomain_within_the_watch_not_the_ttl",
            f"{PER_SERVICE}::test_a_change_to_one_service_ends_only_the_replies_built_from_it",
            f"{PER_SERVICE}::test_what_falls_through_is_kept_only_until_the_store_changes",
        ),
    ),
    "records": (
        "",
        True,
        (
            f"{REPLAYED}::test_a_repeated_query_gets_the_new_answer_once_the_records_reload",
            f"{REPLAYED}::test_a_corefile_reload_on_the_same_listener_forgets_kept_replies",
        ),
    ),
    "loop": ("loop", True, (f"{REPLAYED}::test_loop_replays_only_once_its_probe_is_done",)),
    "forward": ("forward . 127.0.0.1:1", True, ()),
    "whoami": ("whoami", True, ()),
    "nsid": ("nsid", True, ()),
    "bufsize": ("bufsize 1232", True, ()),
    "local": ("local", True, ()),
    "dns64": ("dns64", True, ()),
    "rrl": (
        "rrl",
        True,
        (f"{RRL}::test_a_flooding_client_is_limited_while_a_light_one_is_answered",),
    ),
    "any": ("any", True, ()),
    "rewrite": ("rewrite name exact a.example.test web.example.test", True, ()),
    "header": ("header {\n        response set ra\n    }", True, ()),
    "minimal": ("minimal", True, ()),
    "template": ("template IN AAAA example.test {\n        rcode NOERROR\n    }", True, ()),
    "k8s_external": ("", True, ()),
    "file": (
        "",
        True,
        (f"{FILE}::test_reload_swaps_the_zone_and_keeps_it_when_the_file_breaks",),
    ),
}


def _serving_plugins() -> set[str]:
    """Plugins of the registry with a class that serves queries (a chain link)."""
    found = set()
    for name in plugins.ORDER:
        try:
            module = importlib.import_module(f"kdns.plugins.{name}.handler")
        except ModuleNotFoundError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and callable(getattr(cls, "serve", None)):
                params = list(inspect.signature(cls.serve).parameters.values())
                if len(params) == 2 and params[1].annotation in (Request, "Request"):
                    found.add(name)
    return found


def test_every_serving_plugin_is_declared_here() -> None:
    assert _serving_plugins() == set(DECLARED)


@pytest.mark.parametrize("name", sorted(n for n in DECLARED if DECLARED[n][0]))
def test_a_chain_replays_only_when_each_link_declares_a_lease(tmp_path: Path, name: str) -> None:
    directive, replays, _tests = DECLARED[name]
    (tmp_path / "zone.yaml").write_text(ZONE)
    (tmp_path / "hosts.txt").write_text("10.0.0.7 other.example.test\n")
    (tmp_path / "resolv.conf").write_text("search example.test\nnameserver 127.0.0.1\n")
    directive = directive.replace("TMP", str(tmp_path))
    text = f"example.test:1053 {{\n    {directive}\n    records zone.yaml\n}}\n"
    loaded = config.load(corefile.parse(text, filename=str(tmp_path / "Corefile")))
    assert replay.replayable(loaded.servers[0].handler) is replays


@pytest.mark.parametrize("name", sorted(n for n in DECLARED if DECLARED[n][2]))
def test_each_data_change_has_a_test_that_reaches_a_replayed_query(name: str) -> None:
    for ref in DECLARED[name][2]:
        path, func = ref.split("::")
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert func in names, f"{name}: {ref} is missing"


class _Undeclared:
    """A link that says nothing about its data."""

    name = "undeclared"

    def __init__(self, next: object) -> None:
        self.next = next


def test_a_link_without_a_declaration_never_replays() -> None:
    class Leaf:
        name = "leaf"
        lease = replay.PURE

    assert replay.RouteLease.of(Leaf()) is not None
    assert replay.RouteLease.of(_Undeclared(Leaf())) is None
    undeclared = _Undeclared(Leaf())
    undeclared.lease = None  # type: ignore[attr-defined]
    assert replay.RouteLease.of(undeclared) is None
