"""Corefile parsing, checked against the grammar CoreDNS takes from coredns/caddy."""

import os
import pathlib
from typing import Any

import pytest

from kdns import corefile, errors

NO_ENV: dict[str, str] = {}


def parse(text: str, **env: str) -> list[corefile.ServerBlock]:
    return corefile.parse(text, env=env)


def shape(directives: tuple[corefile.Directive, ...]) -> list[Any]:
    """Directives as nested (name, args, line, block) tuples, for compact expectations."""
    return [(d.name, d.args, d.line, shape(d.block)) for d in directives]


def only_block(text: str, **env: str) -> corefile.ServerBlock:
    (block,) = parse(text, **env)
    return block


def parse_error(text: str, **env: str) -> str:
    with pytest.raises(errors.CorefileError) as caught:
        parse(text, **env)
    return str(caught.value)


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


def test_kubeadm_corefile() -> None:
    block = only_block(KUBEADM)

    assert block.keys == (corefile.ServerKey(".:53", "dns", ".", 53),)
    assert (block.file, block.line) == ("Corefile", 1)
    assert shape(block.directives) == [
        ("errors", (), 2, []),
        ("health", (), 3, [("lameduck", ("5s",), 4, [])]),
        ("ready", (), 6, []),
        (
            "kubernetes",
            ("cluster.local", "in-addr.arpa", "ip6.arpa"),
            7,
            [
                ("pods", ("insecure",), 8, []),
                ("fallthrough", ("in-addr.arpa", "ip6.arpa"), 9, []),
                ("ttl", ("30",), 10, []),
            ],
        ),
        ("prometheus", (":9153",), 12, []),
        ("forward", (".", "/etc/resolv.conf"), 13, [("max_concurrent", ("1000",), 14, [])]),
        (
            "cache",
            ("30",),
            16,
            [
                ("disable", ("success", "cluster.local"), 17, []),
                ("disable", ("denial", "cluster.local"), 18, []),
            ],
        ),
        ("loop", (), 20, []),
        ("reload", (), 21, []),
        ("loadbalance", (), 22, []),
    ]


def test_nested_lines_belong_to_their_top_level_plugin() -> None:
    block = only_block(KUBEADM)
    kubernetes = block.directives[3]

    assert kubernetes.plugin == "kubernetes"
    assert {d.plugin for d in kubernetes.block} == {"kubernetes"}
    assert all(d.file == "Corefile" for d in kubernetes.block)


def test_nested_blocks_two_deep() -> None:
    block = only_block(
        """\
. {
    outer a {
        middle b {
            inner c d
        }
        sibling
    }
    after
}
"""
    )

    assert shape(block.directives) == [
        (
            "outer",
            ("a",),
            2,
            [("middle", ("b",), 3, [("inner", ("c", "d"), 4, [])]), ("sibling", (), 6, [])],
        ),
        ("after", (), 8, []),
    ]
    assert block.directives[0].block[0].block[0].plugin == "outer"


def test_several_blocks_in_order() -> None:
    blocks = parse("example.org {\n  whoami\n}\n\n. {\n  forward . 1.1.1.1\n}\n")

    assert [b.keys[0].zone for b in blocks] == ["example.org.", "."]
    assert [b.line for b in blocks] == [1, 5]
    assert shape(blocks[1].directives) == [("forward", (".", "1.1.1.1"), 6, [])]


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "scheme", "zone", "port"),
    [
        (".", "dns", ".", None),
        (".:53", "dns", ".", 53),
        (":53", "dns", ".", 53),
        ("example.org", "dns", "example.org.", None),
        ("example.org.", "dns", "example.org.", None),
        ("Example.ORG:1053", "dns", "example.org.", 1053),
        ("dns://example.org:1053", "dns", "example.org.", 1053),
        ("dns://.", "dns", ".", None),
        ("DNS://example.org", "dns", "example.org.", None),
        ("tls://example.org", "tls", "example.org.", None),
        ("https://.:443", "https", ".", 443),
        ("grpc://example.org:8053", "grpc", "example.org.", 8053),
        ("quic://.:853", "quic", ".", 853),
        ("10.0.0.0/8", "dns", "10.in-addr.arpa.", None),
        ("10.0.0.0/24", "dns", "0.0.10.in-addr.arpa.", None),
        ("10.1.2.3/24:1053", "dns", "2.1.10.in-addr.arpa.", 1053),
        ("0.0.0.0/0", "dns", "in-addr.arpa.", None),
        ("2001:db8::/32", "dns", "8.b.d.0.1.0.0.2.ip6.arpa.", None),
        ("2001:db8::/36", "dns", "0.8.b.d.0.1.0.0.2.ip6.arpa.", None),
        ("2001:db8::/32:53", "dns", "8.b.d.0.1.0.0.2.ip6.arpa.", 53),
    ],
)
def test_single_zone_keys(key: str, scheme: str, zone: str, port: int | None) -> None:
    block = only_block(f"{key} {{\n}}\n")

    assert block.keys == (corefile.ServerKey(key, scheme, zone, port),)


def test_reverse_cidr_off_an_octet_boundary_expands_like_coredns() -> None:
    block = only_block("10.0.0.0/12:1053 {\n}\n")

    assert [k.zone for k in block.keys] == [f"{i}.10.in-addr.arpa." for i in range(16)]
    assert {(k.text, k.port) for k in block.keys} == {("10.0.0.0/12:1053", 1053)}


def test_reverse_ipv6_cidr_off_a_nibble_boundary_expands() -> None:
    block = only_block("2001:db8::/34 {\n}\n")

    assert [k.zone for k in block.keys] == [f"{i}.8.b.d.0.1.0.0.2.ip6.arpa." for i in range(4)]


def test_reverse_ipv4_cidr_between_octets() -> None:
    block = only_block("192.168.0.0/23 {\n}\n")

    assert [k.zone for k in block.keys] == ["0.168.192.in-addr.arpa.", "1.168.192.in-addr.arpa."]


@pytest.mark.parametrize(
    "head",
    [
        "example.org example.net:1053 {",
        "example.org, example.net:1053 {",
        "example.org,example.net:1053 {",
        "example.org,\n   example.net:1053 {",
        "example.org example.net:1053\n{",
    ],
)
def test_several_keys_per_block(head: str) -> None:
    block = only_block(f"{head}\n    whoami\n}}\n")

    assert [(k.zone, k.port) for k in block.keys] == [
        ("example.org.", None),
        ("example.net.", 1053),
    ]
    assert [d.name for d in block.directives] == ["whoami"]


def test_same_zone_on_different_ports_is_fine() -> None:
    blocks = parse("example.org:53 {\n}\nexample.org:1053 {\n}\nexample.org {\n}\n")

    assert [b.keys[0].port for b in blocks] == [53, 1053, None]


def test_same_zone_with_different_schemes_is_fine() -> None:
    blocks = parse("dns://example.org {\n}\ntls://example.org {\n}\n")

    assert [b.keys[0].scheme for b in blocks] == ["dns", "tls"]


def test_single_block_without_braces() -> None:
    block = only_block("example.org:1053\nwhoami\nforward . 1.1.1.1 {\n  max_fails 2\n}\n")

    assert block.keys == (corefile.ServerKey("example.org:1053", "dns", "example.org.", 1053),)
    assert shape(block.directives) == [
        ("whoami", (), 2, []),
        ("forward", (".", "1.1.1.1"), 3, [("max_fails", ("2",), 4, [])]),
    ]


def test_keys_alone() -> None:
    block = only_block(".:1053")

    assert block.keys[0].port == 1053
    assert block.directives == ()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", '""'])
def test_empty_corefile_has_no_blocks(text: str) -> None:
    assert parse(text) == []


# --- lexing: quotes and comments ---------------------------------------------------------------


def test_quoted_arguments() -> None:
    block = only_block(
        r""". {
    template "a b" "say \"hi\"" "C:\dir" "" "#not a comment" x"y
}
"""
    )

    (directive,) = block.directives
    assert directive.args == ("a b", 'say "hi"', r"C:\dir", "", "#not a comment", 'x"y')


def test_quoted_argument_across_lines_keeps_later_line_numbers() -> None:
    block = only_block('. {\n    answer "one\ntwo" three\n    next\n}\n')

    assert shape(block.directives) == [
        ("answer", ("one\ntwo", "three"), 2, []),
        ("next", (), 4, []),
    ]


def test_quote_right_after_quote_starts_a_new_token() -> None:
    (directive,) = only_block('. {\n    dir "a"b\n}\n').directives

    assert directive.args == ("a", "b")


def test_quoted_braces_are_plain_arguments() -> None:
    (directive,) = only_block('. {\n    dir "{" a "}" "{}"\n}\n').directives

    assert directive.args == ("{", "a", "}", "{}")
    assert directive.block == ()


def test_comments() -> None:
    block = only_block(
        """\
# leading comment
. { # after the brace
    # a whole line
    log # trailing
    forward . 1.1.1.1#53
}
"""
    )

    assert shape(block.directives) == [("log", (), 4, []), ("forward", (".", "1.1.1.1"), 5, [])]


def test_windows_line_endings() -> None:
    block = only_block(". {\r\n    log\r\n    errors\r\n}\r\n")

    assert shape(block.directives) == [("log", (), 2, []), ("errors", (), 3, [])]


# --- environment -------------------------------------------------------------------------------


def test_environment_substitution() -> None:
    block = only_block(
        """\
{$ZONE}:{env.PORT} {
    forward . {$UPSTREAM} "via {env.UPSTREAM}" {%UPSTREAM%}
    log {$UNSET}x{env.UNSET}
}
""",
        ZONE="Example.org",
        PORT="1053",
        UPSTREAM="10.0.0.1",
    )

    assert block.keys == (corefile.ServerKey("Example.org:1053", "dns", "example.org.", 1053),)
    assert shape(block.directives) == [
        ("forward", (".", "10.0.0.1", "via 10.0.0.1", "10.0.0.1"), 2, []),
        ("log", ("x",), 3, []),
    ]


def test_environment_value_is_one_literal_token() -> None:
    # CoreDNS substitutes per token, so spaces or braces in a value never change the structure.
    (directive,) = only_block(
        ". {\n    dir {$SPACED} {$BRACE}\n}\n", SPACED="a b", BRACE="{"
    ).directives

    assert directive.args == ("a b", "{")
    assert directive.block == ()


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KDNS_TEST_ZONE", "from.environ")

    (block,) = corefile.parse("{$KDNS_TEST_ZONE} {\n}\n")

    assert block.keys[0].zone == "from.environ."


# --- snippets ----------------------------------------------------------------------------------


def test_snippet_is_spliced_where_imported() -> None:
    block = only_block(
        """\
(common) {
    errors
    cache 30 {
        success 1000
    }
}
. {
    import common
    forward . 1.1.1.1
}
"""
    )

    assert shape(block.directives) == [
        ("errors", (), 2, []),
        ("cache", ("30",), 3, [("success", ("1000",), 4, [])]),
        ("forward", (".", "1.1.1.1"), 9, []),
    ]
    assert block.directives[1].block[0].plugin == "cache"


def test_snippet_with_arguments() -> None:
    block = only_block(
        """\
(upstream) {
    forward {args[0]} {args[1:]} {
        policy {args[0]}-{args[1]}
    }
    log {args[:]}
}
. {
    import upstream . 1.1.1.1 8.8.8.8
}
"""
    )

    assert shape(block.directives) == [
        (
            "forward",
            (".", "1.1.1.1", "8.8.8.8"),
            2,
            [("policy", (".-1.1.1.1",), 3, [])],
        ),
        ("log", (".", "1.1.1.1", "8.8.8.8"), 5, []),
    ]


def test_snippet_inside_a_nested_block() -> None:
    block = only_block(
        """\
(opts) {
    max_fails {args[0]}
}
. {
    forward . 1.1.1.1 {
        import opts 3
    }
}
"""
    )

    assert shape(block.directives) == [
        ("forward", (".", "1.1.1.1"), 5, [("max_fails", ("3",), 2, [])])
    ]
    assert block.directives[0].block[0].plugin == "forward"


def test_one_line_snippet_imported_twice_gives_two_lines() -> None:
    block = only_block("(s) { log {args[0]} }\n. {\n    import s a\n    import s b\n}\n")

    assert shape(block.directives) == [("log", ("a",), 1, []), ("log", ("b",), 1, [])]


def test_import_first_in_a_one_line_snippet_is_still_an_import() -> None:
    block = only_block("(t) {\n    log\n}\n(s) { import t }\n. {\n    import s\n}\n")

    assert shape(block.directives) == [("log", (), 2, [])]


def test_snippet_can_hold_whole_server_blocks() -> None:
    blocks = parse(
        "(site) {\n    {args[0]} {\n        whoami\n    }\n}\nimport site a.org\nimport site b.org\n"
    )

    assert [b.keys[0].zone for b in blocks] == ["a.org.", "b.org."]


def test_variadic_argument_with_no_arguments_vanishes() -> None:
    (directive,) = only_block("(s) {\n    log {args[:]}\n}\n. {\n    import s\n}\n").directives

    assert directive.args == ()


def test_snippets_reused_without_a_cycle() -> None:
    block = only_block(
        "(leaf) {\n    log {args[0]}\n}\n"
        "(pair) {\n    import leaf {args[0]}1\n    import leaf {args[0]}2\n}\n"
        ". {\n    import pair a\n    import pair b\n}\n"
    )

    assert [d.args for d in block.directives] == [("a1",), ("a2",), ("b1",), ("b2",)]


def test_snippet_cycle_through_two_snippets() -> None:
    message = parse_error(
        "(a) {\n    import b\n}\n(b) {\n    log\n    import a\n}\n. {\n    import a\n}\n"
    )

    root = os.path.abspath("Corefile")
    assert (
        message == f"Corefile:6 - Error during parsing: import cycle: {root} -> (a) -> (b) -> (a)"
    )


def test_import_as_an_argument_is_not_an_import() -> None:
    (directive,) = only_block(". {\n    acl import x\n}\n").directives

    assert (directive.name, directive.args) == ("acl", ("import", "x"))


# --- imports from files ------------------------------------------------------------------------


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_import_glob_relative_to_the_corefile(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "conf.d" / "b.conf", "log\n")
    write(tmp_path / "conf.d" / "a.conf", "errors\nforward . {args[0]}\n")
    write(tmp_path / "conf.d" / "ignored.txt", "nope\n")
    root = write(tmp_path / "Corefile", ". {\n    import conf.d/*.conf 9.9.9.9\n    whoami\n}\n")
    monkeypatch.chdir(tmp_path.parent)  # the working directory must not matter

    (block,) = corefile.load(root, env=NO_ENV)

    a_conf = str(tmp_path / "conf.d" / "a.conf")
    assert [(d.name, d.args, d.file, d.line) for d in block.directives] == [
        ("errors", (), a_conf, 1),
        ("forward", (".", "9.9.9.9"), a_conf, 2),
        ("log", (), str(tmp_path / "conf.d" / "b.conf"), 1),
        ("whoami", (), str(root), 3),
    ]


def test_import_whole_server_blocks_at_top_level(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "zones" / "a.server", "a.org {\n    whoami\n}\n")
    write(tmp_path / "zones" / "b.server", "b.org {\n    whoami\n}\n")
    root = write(tmp_path / "Corefile", "import zones/*.server\n. {\n    forward . 1.1.1.1\n}\n")

    blocks = corefile.load(root, env=NO_ENV)

    assert [b.keys[0].zone for b in blocks] == ["a.org.", "b.org.", "."]
    assert (blocks[1].file, blocks[1].line) == (str(tmp_path / "zones" / "b.server"), 1)


def test_import_plain_file_and_nested_relative_import(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "sub" / "inner", "ttl 5\n")
    write(tmp_path / "sub" / "outer", "import inner\n")  # relative to sub/, where outer lives
    root = write(
        tmp_path / "Corefile",
        ". {\n    kubernetes cluster.local {\n        import sub/outer\n    }\n}\n",
    )

    (block,) = corefile.load(root, env=NO_ENV)

    assert shape(block.directives) == [
        ("kubernetes", ("cluster.local",), 2, [("ttl", ("5",), 1, [])])
    ]
    assert block.directives[0].block[0].plugin == "kubernetes"


def test_snippet_defined_in_an_imported_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "snippets", "(common) {\n    errors\n}\n")
    root = write(tmp_path / "Corefile", "import snippets\n. {\n    import common\n}\n")

    (block,) = corefile.load(root, env=NO_ENV)

    assert [d.name for d in block.directives] == ["errors"]


def test_glob_without_matches_is_not_an_error(tmp_path: pathlib.Path) -> None:
    root = write(tmp_path / "Corefile", ". {\n    import custom/*.override\n    log\n}\n")

    (block,) = corefile.load(root, env=NO_ENV)

    assert [d.name for d in block.directives] == ["log"]


def test_glob_skips_directories(tmp_path: pathlib.Path) -> None:
    # A ConfigMap volume holds `..data` and timestamped directories next to the files.
    write(tmp_path / "custom" / "..2024_01_01" / "x.override", "log\n")
    write(tmp_path / "custom" / "x.override", "log\n")
    root = write(tmp_path / "Corefile", ". {\n    import custom/*\n}\n")

    (block,) = corefile.load(root, env=NO_ENV)

    assert [d.file for d in block.directives] == [str(tmp_path / "custom" / "x.override")]


@pytest.mark.parametrize(
    ("included", "line", "reason"),
    [
        ('log\nforward . "1.1.1.1\n', 2, "Unterminated quoted string"),
        (
            "log\nforward . 1.1.1.1\n{\n}\n",
            3,
            "Unexpected '{' on a new line; did you mean to place the '{' on the previous line?",
        ),
        ("\nimport missing.conf\n", 2, "File to import not found: missing.conf"),
    ],
)
def test_error_in_imported_file_names_that_file(
    tmp_path: pathlib.Path, included: str, line: int, reason: str
) -> None:
    inc = write(tmp_path / "inc.conf", included)
    root = write(tmp_path / "Corefile", ". {\n    import inc.conf\n}\n")

    with pytest.raises(errors.CorefileError) as caught:
        corefile.load(root, env=NO_ENV)

    assert str(caught.value) == f"{inc}:{line} - Error during parsing: {reason}"


def test_load_reports_the_path_as_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "Corefile", ". {\n    log\n}\n}\n")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(errors.CorefileError) as caught:
        corefile.load("Corefile", env=NO_ENV)

    assert str(caught.value) == (
        "Corefile:4 - Error during parsing: Unexpected '}' because no matching opening brace"
    )


def test_load_unreadable_file_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.ConfigError, match=r"cannot read .*missing"):
        corefile.load(tmp_path / "missing", env=NO_ENV)


def test_import_file_cycle(tmp_path: pathlib.Path) -> None:
    a = write(tmp_path / "a.conf", "log\nimport b.conf\n")
    write(tmp_path / "b.conf", "\nimport a.conf\n")
    root = write(tmp_path / "Corefile", ". {\n    import a.conf\n}\n")

    with pytest.raises(errors.CorefileError) as caught:
        corefile.load(root, env=NO_ENV)

    b = tmp_path / "b.conf"
    assert str(caught.value) == (
        f"{b}:2 - Error during parsing: import cycle: {root} -> {a} -> {b} -> {a}"
    )


def test_corefile_importing_itself_is_a_cycle(tmp_path: pathlib.Path) -> None:
    root = write(tmp_path / "Corefile", ". {\n    import Corefile\n}\n")

    with pytest.raises(errors.CorefileError, match=r"Corefile:2 - .*import cycle"):
        corefile.load(root, env=NO_ENV)


# --- errors ------------------------------------------------------------------------------------

ERRORS = [
    pytest.param(
        ". {\n    log\n",
        1,
        "Unexpected EOF: the '{' on this line is never closed",
        id="unclosed-server-block",
    ),
    pytest.param(
        ". {\n    forward . 1.1.1.1 {\n        max_fails 2\n}\n",
        1,
        "Unexpected EOF: the '{' on this line is never closed",
        id="unclosed-nested-block",
    ),
    pytest.param(
        ". {\n    log\n}\n}\n",
        4,
        "Unexpected '}' because no matching opening brace",
        id="extra-brace",
    ),
    pytest.param("}\n", 1, "Unexpected '}' because no matching opening brace", id="brace-first"),
    pytest.param(
        "example.org\nlog\n}\n",
        3,
        "Unexpected '}' because no matching opening brace",
        id="extra-brace-braceless",
    ),
    pytest.param(
        ". {\n    log }\n}\n",
        2,
        "Unexpected '}' at the end of a line; put it on its own line",
        id="closing-brace-after-args",
    ),
    pytest.param(
        "{\n    log\n}\n", 1, "Expected a server block key (a zone) before '{'", id="missing-key"
    ),
    pytest.param(
        ". {\n    forward . 1.1.1.1\n    {\n        max_fails 2\n    }\n}\n",
        3,
        "Unexpected '{' on a new line; did you mean to place the '{' on the previous line?",
        id="brace-on-its-own-line",
    ),
    pytest.param(
        ". { log\n}\n",
        1,
        "Unexpected next token after '{' on same line",
        id="server-block-on-one-line",
    ),
    pytest.param(
        ". {\n    cache { success 10 }\n}\n",
        2,
        "Unexpected next token after '{' on same line",
        id="option-block-on-one-line",
    ),
    pytest.param(
        ". {\n    cache {\n        success 10\n    } denial\n}\n",
        4,
        "Unexpected next token after '}' on same line",
        id="token-after-closing-brace",
    ),
    pytest.param(". {\n    whoami {}\n}\n", 2, "Unexpected '{}' at end of line", id="empty-braces"),
    pytest.param("a.org,\n", 1, "Unexpected EOF", id="trailing-comma-at-eof"),
    pytest.param(
        "a.org, {\n}\n",
        1,
        "Expected another address but had '{' - check for extra comma",
        id="trailing-comma-before-brace",
    ),
    pytest.param(
        "example.org:abc {\n}\n",
        1,
        "invalid port 'abc' in 'example.org:abc'",
        id="port-not-a-number",
    ),
    pytest.param(
        "\n\nexample.org:65536 {\n}\n",
        3,
        "invalid port '65536' in 'example.org:65536'",
        id="port-too-big",
    ),
    pytest.param(
        "example.org: {\n}\n", 1, "expecting data after last colon: 'example.org:'", id="port-empty"
    ),
    pytest.param(
        "foo://example.org {\n}\n",
        1,
        "unknown scheme 'foo' in 'foo://example.org'",
        id="unknown-scheme",
    ),
    pytest.param("10.0.0.0/33 {\n}\n", 1, "invalid CIDR 10.0.0.0/33", id="bad-cidr"),
    pytest.param("a..org {\n}\n", 1, "zone is not a valid domain name: a..org", id="empty-label"),
    pytest.param(
        "example.org{\n}\n",
        1,
        "Unexpected brace in key 'example.org{' - put a space between the key and the brace",
        id="brace-glued-to-key",
    ),
    pytest.param(
        ". . {\n}\n",
        1,
        "cannot serve dns://. - zone already defined at Corefile:1",
        id="duplicate-in-one-block",
    ),
    pytest.param(
        ". {\n    import nowhere.conf\n}\n",
        2,
        "File to import not found: nowhere.conf",
        id="missing-import-file",
    ),
    pytest.param(
        ". {\n    import undefined_snippet\n}\n",
        2,
        "File to import not found: undefined_snippet",
        id="undefined-snippet",
    ),
    pytest.param(
        ". {\n    import\n}\n",
        2,
        "Wrong argument count or unexpected line ending after 'import'",
        id="import-without-pattern",
    ),
    pytest.param(
        '. {\n    import ""\n}\n',
        2,
        "Import requires a non-empty filepath",
        id="import-empty-pattern",
    ),
    pytest.param(
        ". {\n    import conf/*/*.conf\n}\n",
        2,
        "Glob pattern may only contain one wildcard (*), but has others: conf/*/*.conf",
        id="glob-two-wildcards",
    ),
    pytest.param(
        '. {\n    log "unterminated\n}\n', 2, "Unterminated quoted string", id="unterminated-quote"
    ),
    pytest.param(
        "(s) {\n    log\n}\n(s) {\n}\n",
        4,
        "redeclaration of previously declared snippet s",
        id="snippet-redeclared",
    ),
    pytest.param(
        "(s)\nlog\n",
        2,
        "Unexpected token 'log', expecting '{' after snippet s",
        id="snippet-without-braces",
    ),
    pytest.param(
        "(s) {\n    log\n",
        1,
        "Unexpected EOF: the '{' on this line is never closed",
        id="snippet-unclosed",
    ),
    pytest.param(
        "(loop) {\n    import loop\n}\n. {\n    import loop\n}\n",
        2,
        "import cycle: {root} -> (loop) -> (loop)",
        id="snippet-self-import",
    ),
    pytest.param(
        ". {\n    import s\n}\n(s) {\n    log\n}\n",
        2,
        "File to import not found: s",
        id="snippet-used-before-defined",
    ),
    pytest.param(
        "(s) {\n    log {args[1]}\n}\n. {\n    import s x\n}\n",
        2,
        "Placeholder {args[1]} index is out of bounds, only 1 argument(s) exist",
        id="argument-out-of-range",
    ),
    pytest.param(
        "(s) {\n    log x{args[:]}\n}\n. {\n    import s x\n}\n",
        2,
        "Variadic placeholder {args[:]} must be a token on its own",
        id="variadic-inside-a-token",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), ERRORS)
def test_errors_name_file_and_line(text: str, line: int, reason: str) -> None:
    reason = reason.replace("{root}", os.path.abspath("Corefile"))

    assert parse_error(text) == f"Corefile:{line} - Error during parsing: {reason}"


def test_errors_use_the_filename_given() -> None:
    with pytest.raises(errors.CorefileError) as caught:
        corefile.parse(". {\n", filename="/etc/coredns/Corefile", env=NO_ENV)

    assert (caught.value.file, caught.value.line, caught.value.plugin) == (
        "/etc/coredns/Corefile",
        1,
        None,
    )


# --- Directive helpers -------------------------------------------------------------------------


def directive(text: str) -> corefile.Directive:
    (block,) = parse(f". {{\n{text}\n}}\n")
    return block.directives[0]


def test_expect_args_within_bounds() -> None:
    forward = directive("forward . 1.1.1.1 8.8.8.8")

    assert forward.expect_args(2) == (".", "1.1.1.1", "8.8.8.8")
    assert forward.expect_args(1, 3) == (".", "1.1.1.1", "8.8.8.8")
    assert directive("ready").expect_args(0, 0) == ()


@pytest.mark.parametrize(
    ("text", "bounds"), [("cache 1 2", (0, 1)), ("forward .", (2, None)), ("hosts", (1, 1))]
)
def test_expect_args_out_of_bounds(text: str, bounds: tuple[int, int | None]) -> None:
    with pytest.raises(errors.CorefileError):
        directive(text).expect_args(*bounds)


def test_arg_error_names_the_last_token() -> None:
    assert str(directive("forward . 1.1.1.1").arg_error()) == (
        "plugin/forward: Corefile:2 - Error during parsing: "
        "Wrong argument count or unexpected line ending after '1.1.1.1'"
    )
    assert str(directive("forward").arg_error()).endswith("unexpected line ending after 'forward'")


def test_unknown_property_points_at_the_option_line() -> None:
    option = directive("kubernetes cluster.local {\n    pods insecure\n    bogus 1\n}").block[1]

    assert str(option.unknown_property()) == (
        "plugin/kubernetes: Corefile:4 - Error during parsing: unknown property 'bogus'"
    )


def test_error_carries_plugin_file_and_line() -> None:
    err = directive("log").error("something is off")

    assert (err.reason, err.file, err.line, err.plugin) == (
        "something is off",
        "Corefile",
        2,
        "log",
    )


def test_no_block() -> None:
    directive("whoami").no_block()
    for text in ("whoami {\n    x\n}", "whoami {\n}"):
        with pytest.raises(errors.CorefileError) as caught:
            directive(text).no_block()
        assert str(caught.value) == (
            "plugin/whoami: Corefile:2 - Error during parsing: "
            "Unexpected token '{', 'whoami' takes no block"
        )


def test_directives_are_immutable_values() -> None:
    first, second = directive("log"), directive("log")

    assert first == second
    with pytest.raises(AttributeError):
        first.name = "errors"  # type: ignore[misc]
