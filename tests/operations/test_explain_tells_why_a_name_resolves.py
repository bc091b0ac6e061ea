"""``kdns explain``: the reply as dig prints it, the chain's trace, and what the answer was built
from or why there is none, against the fake API server and the embedded records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import apiserver as fa
from tests.support import clients, kube_e2e

COREFILE = """\
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig KUBECONFIG
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30 {
        disable success cluster.local
        disable denial cluster.local
    }
}
"""


@pytest.fixture(scope="module")
def corefile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with kube_e2e.api_server() as api:
        api.start()
        for ns in ("default", "shop", "tools"):
            api.create(fa.namespace(ns))
        api.create(fa.service("web", "shop", cluster_ips=["10.96.0.20"]))
        api.create(fa.service("db", "shop", cluster_ips=["None"]))
        api.create(
            fa.endpoint_slice(
                "db-1",
                "shop",
                service="db",
                endpoints=[fa.endpoint("10.244.0.7", ready=False, pod="db-0", ns="shop")],
            )
        )
        tmp = tmp_path_factory.mktemp("explain")
        kubeconfig = api.call(lambda: api.api.write_kubeconfig(tmp / "kubeconfig.yaml"))
        path = tmp / "Corefile"
        path.write_text(COREFILE.replace("KUBECONFIG", str(kubeconfig)))
        yield path


def explain(corefile: Path, *args: str) -> tuple[int, str]:
    done = clients.run_kdns(
        ["explain", *args, "-conf", str(corefile)], cwd=corefile.parent, timeout=30
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def test_a_service_answer_names_the_service(corefile: Path) -> None:
    code, out = explain(corefile, "web.shop.svc.cluster.local")
    assert code == 0
    assert "status: NOERROR" in out
    assert "web.shop.svc.cluster.local.\t\t30\tIN\tA\t10.96.0.20" in out
    assert "kubernetes    answered NOERROR" in out
    assert "Service shop/web: ClusterIP 10.96.0.20, ports http/TCP 80" in out
    assert f"server block {corefile}:1, zone ." in out


def test_a_missing_service_says_which_namespaces_have_one(corefile: Path) -> None:
    code, out = explain(corefile, "web.default.svc.cluster.local")
    assert code == 0 and "status: NXDOMAIN" in out
    assert "no Service web in namespace default" in out
    assert "namespaces with a Service named web: shop" in out


def test_a_headless_service_without_ready_endpoints_names_the_pods(corefile: Path) -> None:
    _, out = explain(corefile, "db.shop.svc.cluster.local")
    assert "10.244.0.7 not ready pod db-0" in out
    assert "headless Service with no ready endpoints (not ready: db-0)" in out


def test_the_search_path_from_a_namespace(corefile: Path) -> None:
    code, out = explain(corefile, "web", "-from", "shop", "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert [t["name"] for t in document["tries"]] == [
        "web.shop.svc.cluster.local.",
        "web.svc.cluster.local.",
        "web.cluster.local.",
        "web.",
    ]
    assert document["search"]["accepted"] == "web.shop.svc.cluster.local."
    assert document["tries"][1]["rcode"] == "NXDOMAIN"


def test_a_configuration_error_exits_1(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(". {\n    nope\n}\n")
    done = clients.run_kdns(["explain", "x.test", "-conf", "Corefile"], cwd=tmp_path)
    assert done.returncode == 1
    assert "Unknown directive 'nope'" in done.stderr


def test_records_answers_name_their_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text("zone: example.test\nrecords:\n  web: {A: 192.0.2.1}\n")
    (tmp_path / "Corefile").write_text("example.test {\n    records zone.yaml\n}\n")
    done = clients.run_kdns(["explain", "web.example.test", "-conf", "Corefile"], cwd=tmp_path)
    assert done.returncode == 0
    assert "web.example.test. A from zone.yaml:3" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x.test", "-ndots"], "flag needs an argument: -ndots"),
        (["x.test", "-ndots", "five"], 'invalid value "five" for flag -ndots'),
        (["x.test", "-ndots=5", "-nope"], "flag provided but not defined: -nope"),
    ],
)
def test_a_bad_flag_exits_2_with_gos_message(argv: list[str], message: str, tmp_path: Path) -> None:
    done = clients.run_kdns(["explain", *argv], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == message
    assert "Traceback" not in done.stderr
