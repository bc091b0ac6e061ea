"""``kdns migrate-kube-dns``: golden kube-dns ConfigMaps and the Corefiles they become."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dns.rcode
import pytest
import yaml

from kdns import cli, config, corefile, plugins
from kdns.migrate import MigrationError, translate
from tests.support import clients, kdnsproc

KUBEADM = """\
.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
        max_concurrent 1000
    }
    cache 30 {
        disable success cluster.local
        disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""


def configmap(**data: str) -> str:
    """A kube-dns ConfigMap as ``kubectl -n kube-system get configmap kube-dns -o yaml`` shows it."""
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "data": data,
    }
    return yaml.safe_dump(doc)


def run(text: str, *extra: str) -> tuple[int, str, str]:
    """``python -m kdns migrate-kube-dns -`` with ``text`` on standard input."""
    proc = clients.run_kdns(["migrate-kube-dns", *extra, "-"], cwd=Path.cwd(), input=text)
    return proc.returncode, proc.stdout, proc.stderr


def main_block(upstreams: str) -> str:
    return KUBEADM.replace("/etc/resolv.conf", upstreams)


# --- golden pairs ------------------------------------------------------------------------------

GOLDEN: dict[str, tuple[dict[str, str], str, list[str]]] = {
    "empty ConfigMap: kubeadm's Corefile": ({}, KUBEADM, []),
    "upstreams with and without ports": (
        {"upstreamNameservers": '["8.8.8.8", "8.8.4.4:5353"]'},
        main_block("8.8.8.8 8.8.4.4:5353"),
        [],
    ),
    "stub domains, sorted, with ports": (
        {
            "stubDomains": '{"corp.example": ["10.150.0.1", "10.150.0.2:5353"],'
            ' "acme.local": ["1.2.3.4"]}',
            "upstreamNameservers": '["172.16.0.1"]',
        },
        main_block("172.16.0.1")
        + textwrap.dedent(
            """\

            acme.local:53 {
                errors
                cache 30
                forward . 1.2.3.4
            }

            corp.example:53 {
                errors
                cache 30
                forward . 10.150.0.1 10.150.0.2:5353
            }
            """
        ),
        [],
    ),
    "IPv6 bare, bracketed, bracketed with a port": (
        {
            "stubDomains": '{"v6.example": ["2001:db8::1", "[2001:db8::2]", "[2001:db8::3]:5353"]}',
            "upstreamNameservers": '["2001:4860:4860::8888", "[fd00::53]:1053"]',
        },
        main_block("2001:4860:4860::8888 [fd00::53]:1053")
        + textwrap.dedent(
            """\

            v6.example:53 {
                errors
                cache 30
                forward . 2001:db8::1 2001:db8::2 [2001:db8::3]:5353
            }
            """
        ),
        [],
    ),
    "host names are left out with a warning": (
        {
            "stubDomains": '{"acme.local": ["1.2.3.4", "ns1.acme.local:53"],'
            ' "names.only": ["dns.example.com"]}',
            "upstreamNameservers": '["resolver.example.net", "9.9.9.9"]',
        },
        main_block("9.9.9.9")
        + textwrap.dedent(
            """\

            acme.local:53 {
                errors
                cache 30
                forward . 1.2.3.4
            }
            """
        ),
        [
            "upstreamNameservers: left out 'resolver.example.net': a host name, and forward "
            "takes IP addresses only",
            "stubDomains['acme.local']: left out 'ns1.acme.local:53': a host name, and forward "
            "takes IP addresses only",
            "stubDomains['names.only']: left out 'dns.example.com': a host name, and forward "
            "takes IP addresses only",
            "stubDomains['names.only']: no IP address left; domain left out",
        ],
    ),
    "upstreams that are all host names fall back to resolv.conf": (
        {"upstreamNameservers": '["resolver.example.net"]'},
        KUBEADM,
        [
            "upstreamNameservers: left out 'resolver.example.net': a host name, and forward "
            "takes IP addresses only",
            "upstreamNameservers: no IP address left; forwarding to /etc/resolv.conf",
        ],
    ),
    "empty values are as good as absent": (
        {"stubDomains": "", "upstreamNameservers": "  ", "federations": ""},
        KUBEADM,
        [],
    ),
    "empty JSON": ({"stubDomains": "{}", "upstreamNameservers": "[]"}, KUBEADM, []),
    "domains are lower-cased, without a trailing dot": (
        {"stubDomains": '{"Corp.Example.": ["10.0.0.1"]}'},
        KUBEADM + "\ncorp.example:53 {\n    errors\n    cache 30\n    forward . 10.0.0.1\n}\n",
        [],
    ),
}


@pytest.mark.parametrize("case", GOLDEN)
def test_golden(case: str) -> None:
    data, expected, warnings = GOLDEN[case]
    doc = yaml.safe_load(configmap(**data))
    text, got = translate(doc)
    assert text == expected
    assert got == warnings
    blocks = corefile.parse(text)
    assert blocks[0].keys[0].zone == "." and blocks[0].keys[0].port == 53


def test_the_cluster_domain_can_be_changed() -> None:
    text, _ = translate({"data": {}}, cluster_domain="Cluster.Example.")
    assert text == KUBEADM.replace("cluster.local", "cluster.example")


def test_a_configmap_with_no_data_key() -> None:
    assert translate({"apiVersion": "v1", "kind": "ConfigMap"}) == (KUBEADM, [])


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"federations": '{"myfed": "example.com"}'}, "federations: kdns has no federation plugin"),
        ({"stubDomains": '{"acme.local": ["1.2.3.4"]'}, "stubDomains: malformed JSON"),
        ({"upstreamNameservers": "8.8.8.8"}, "upstreamNameservers: malformed JSON"),
        ({"upstreamNameservers": '{"a": 1}'}, "upstreamNameservers: expected a JSON list"),
        ({"upstreamNameservers": "[53]"}, "upstreamNameservers: expected a JSON list"),
        ({"stubDomains": '["1.2.3.4"]'}, "stubDomains: expected a JSON object"),
        ({"stubDomains": '{"a.b": "1.2.3.4"}'}, "stubDomains: expected a JSON object"),
        ({"stubDomains": '{"bad domain": ["1.2.3.4"]}'}, "not a valid domain name"),
        ({"stubDomains": '{".": ["1.2.3.4"]}'}, "not a valid domain name"),
        ({"stubDomains": '{"a.b": ["1"], "A.b.": ["2"]}'}, "are one domain"),
        ({"stubDomains": '{"a.b": ["1.2.3.4:99999"]}'}, "between 1 and 65535"),
        ({"stubDomains": '{"a.b": ["1.2.3.4:"]}'}, "has an empty port"),
        ({"stubDomains": '{"a.b": ["[2001:db8::1]x"]}'}, "is not ADDRESS[:PORT]"),
        ({"upstreamNameservers": '["not a name!"]'}, "neither an IP address nor a host name"),
        ({"upstreamNameservers": '["8.8.8.300"]'}, "'8.8.8.300' is not a valid IP address"),
        ({"upstreamNameservers": '["10.0.0.1", "10.1"]'}, "'10.1' is not a valid IP address"),
        ({"stubDomains": '{"a.b": ["10.0.0.256:53"]}'}, "'10.0.0.256:53' is not a valid IP"),
    ],
)
def test_what_cannot_be_translated_names_the_key(data: dict[str, str], message: str) -> None:
    with pytest.raises(MigrationError, match=message.replace("[", r"\[")):
        translate({"kind": "ConfigMap", "data": data})


def test_other_kinds_are_refused() -> None:
    with pytest.raises(MigrationError, match="expected a ConfigMap, got kind 'Secret'"):
        translate({"kind": "Secret", "data": {}})


# --- the output is a Corefile kdns reads -------------------------------------------------------


def test_every_golden_output_parses_and_loads_where_the_plugins_exist() -> None:
    """Each server block is loaded (setup of every directive) once kdns has all its plugins."""
    stubs = loaded = 0
    for data, _, _ in GOLDEN.values():
        text, _ = translate({"data": data})
        blocks = corefile.parse(text)
        stubs += len(blocks) - 1
        for block in blocks:
            names = {d.name for d in block.directives}
            if all(plugins.setup_function(n) is not None for n in names):
                # Setup only records options and hooks; nothing here reaches an API server.
                config.load([block])
                loaded += 1
    assert stubs == 5
    if plugins.setup_function("forward") and plugins.setup_function("cache"):
        assert loaded >= stubs


def test_the_stub_domain_blocks_serve_through_a_fake_upstream() -> None:
    if plugins.setup_function("forward") is None or plugins.setup_function("cache") is None:
        pytest.skip("the forward and cache plugins are not there yet")
    from tests.support.upstream import FakeUpstream

    with FakeUpstream() as upstream:
        text, warnings = translate(
            {
                "data": {
                    "stubDomains": f'{{"acme.local": ["127.0.0.1:{upstream.port}",'
                    ' "ns.acme.local"]}'
                }
            }
        )
        assert len(warnings) == 1
        stubs = text[len(KUBEADM) :]
        assert stubs.startswith("\nacme.local:53 {")
        with kdnsproc.serve(stubs.replace(":53 {", ":{port} {")) as server:
            reply = server.query("www.acme.local.", "A")
            assert reply.rcode() == dns.rcode.NOERROR
            assert [rr.to_text() for rrset in reply.answer for rr in rrset] == ["192.0.2.1"]
            assert server.query("elsewhere.example.", "A").rcode() == dns.rcode.REFUSED
        assert "www.acme.local." in [seen.name.lower() for seen in upstream.queries]


# --- the command -------------------------------------------------------------------------------


def test_the_command_prints_the_corefile_and_warns_on_stderr() -> None:
    code, out, err = run(
        configmap(
            stubDomains='{"acme.local": ["1.2.3.4", "ns.acme.local"]}',
            upstreamNameservers='["8.8.8.8"]',
        )
    )
    assert code == 0, err
    assert out.startswith(".:53 {\n") and "forward . 8.8.8.8 {" in out
    assert out.endswith("acme.local:53 {\n    errors\n    cache 30\n    forward . 1.2.3.4\n}\n")
    assert err == (
        "migrate-kube-dns: warning: stubDomains['acme.local']: left out 'ns.acme.local': "
        "a host name, and forward takes IP addresses only\n"
    )


def test_federations_exit_1_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kube-dns.yaml"
    path.write_text(configmap(federations='{"myfed": "example.com"}'))
    assert cli.main(["migrate-kube-dns", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"migrate-kube-dns: {path}: federations: kdns has no federation plugin")


def test_malformed_json_exits_1_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kube-dns.yaml"
    path.write_text(configmap(upstreamNameservers='["8.8.8.8",]'))
    assert cli.main(["migrate-kube-dns", str(path)]) == 1
    assert "upstreamNameservers: malformed JSON" in capsys.readouterr().err


def test_cluster_domain_flag_and_multi_document_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "all.yaml"
    other = yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}})
    path.write_text(other + "---\n" + configmap(upstreamNameservers='["1.1.1.1"]'))
    assert cli.main(["migrate-kube-dns", "-cluster-domain", "k8s.internal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kubernetes k8s.internal in-addr.arpa ip6.arpa {" in out
    assert "forward . 1.1.1.1 {" in out
    assert cli.main(["migrate-kube-dns", "--cluster-domain=k8s.internal", str(path)]) == 0


@pytest.mark.parametrize(
    ("args", "code", "stream", "text"),
    [
        ([], 2, "err", "missing the ConfigMap file"),
        (["a.yaml", "b.yaml"], 2, "err", "unexpected argument: b.yaml"),
        (["-nope", "a.yaml"], 2, "err", "flag provided but not defined: -nope"),
        (["-cluster-domain"], 2, "err", "flag needs an argument: -cluster-domain"),
        (["-h"], 0, "out", "Usage: kdns migrate-kube-dns"),
        (["/nonexistent/kube-dns.yaml"], 1, "err", "cannot read /nonexistent/kube-dns.yaml"),
    ],
)
def test_usage(
    args: list[str], code: int, stream: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate-kube-dns", *args]) == code
    captured = capsys.readouterr()
    assert text in (captured.out if stream == "out" else captured.err)


def test_not_yaml_or_not_one_configmap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    for text, reason in [
        ("data: [unclosed", "not valid YAML"),
        ("", "expected one ConfigMap, found 0"),
        ("- a\n- b\n", "not a YAML mapping"),
        (configmap() + "---\n" + configmap(), "expected one ConfigMap, found 2"),
    ]:
        path.write_text(text)
        assert cli.main(["migrate-kube-dns", str(path)]) == 1
        assert reason in capsys.readouterr().err


# --- what kube-dns would not have read -----------------------------------------------------------


def test_unknown_keys_are_warned_about() -> None:
    text, warnings = translate(
        {
            "data": {
                "stubDomain": '{"acme.local": ["1.2.3.4"]}',
                "upstreamNameservers": '["9.9.9.9"]',
            }
        }
    )
    assert "acme.local" not in text
    assert warnings == [
        "stubDomain: not a kube-dns key, ignored (did you mean stubDomains?)",
    ]
    _, warnings = translate({"data": {"colour": "blue"}})
    assert warnings == [
        "colour: not a kube-dns key, ignored "
        "(kube-dns reads stubDomains, upstreamNameservers and federations)"
    ]


def test_a_yaml_error_is_one_line_with_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kube-dns.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\ndata: {stubDomains: '{}'\n")
    assert cli.main(["migrate-kube-dns", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"migrate-kube-dns: {path}:3: not valid YAML: "), err
    code, _, err = run("kind: ConfigMap\ndata:\n  a: b\n   c: d\n")
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith("migrate-kube-dns: <stdin>:4: not valid YAML: "), err


@pytest.mark.parametrize("flag", [["-cluster-domain", "bad domain"], ["-cluster-domain=a..b"]])
def test_a_bad_cluster_domain_is_blamed_on_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    path = tmp_path / "kube-dns.yaml"
    path.write_text(configmap())
    assert cli.main(["migrate-kube-dns", *flag, str(path)]) == 2
    err = capsys.readouterr().err
    value = flag[-1].removeprefix("-cluster-domain=")
    assert err.startswith(
        f'invalid value "{value}" for flag -cluster-domain: not a valid domain name\n'
    )
    assert str(path) not in err
