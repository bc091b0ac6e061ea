"""What the plugin hands to the next one: other names, other classes, fallthrough."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from kdns.pkg import fall
from tests.support import yamlzones
from tests.support.seam import PASSED

ZONE = """\
zone: example.test
records:
  web: {A: 10.0.0.1}
  "*.apps": {A: 10.0.0.9}
---
zone: 0.0.10.in-addr.arpa
records:
  "1": {PTR: web.example.test.}
"""


@pytest.mark.parametrize(
    "name", ["example.org.", "test.", ".", "badexample.test.", "1.0.10.in-addr.arpa."]
)
def test_names_outside_the_zones_go_to_the_next_plugin(tmp_path: Path, name: str) -> None:
    h, following = yamlzones.make(tmp_path, ZONE)
    assert yamlzones.raw(h, name, "A") is PASSED
    assert len(following.seen) == 1
    # Foreign names are not memoized: a flood of them cannot evict the zone's own answers.
    assert len(h.table.memo) == 0


def test_bare_fallthrough_passes_every_nxdomain_on(tmp_path: Path) -> None:
    h, following = yamlzones.make(tmp_path, ZONE, fallthrough=fall.ROOT)
    assert yamlzones.raw(h, "nope.example.test.", "A") is PASSED
    assert yamlzones.raw(h, "nope.example.test.", "A") is PASSED  # memoized as "pass on"
    assert yamlzones.raw(h, "9.0.0.10.in-addr.arpa.", "PTR") is PASSED
    assert following.seen == ["nope.example.test.", "nope.example.test.", "9.0.0.10.in-addr.arpa."]
    # NODATA is an answer, not a missing name: it never falls through.
    assert yamlzones.ask(h, "web.example.test.", "AAAA").rcode == "NOERROR"
    assert yamlzones.ask(h, "x.apps.example.test.", "A").answer == [
        "x.apps.example.test. 300 IN A 10.0.0.9"
    ]


def test_fallthrough_with_zones_passes_only_those(tmp_path: Path) -> None:
    h, following = yamlzones.make(tmp_path, ZONE, fallthrough=fall.from_args(("in-addr.arpa",)))
    assert yamlzones.raw(h, "9.0.0.10.in-addr.arpa.", "PTR") is PASSED
    assert yamlzones.ask(h, "nope.example.test.", "A").rcode == "NXDOMAIN"
    assert following.seen == ["9.0.0.10.in-addr.arpa."]


def test_a_flood_of_random_names_keeps_the_memo_bounded(tmp_path: Path) -> None:
    h, _ = yamlzones.make(tmp_path, ZONE, memo_size=100)
    hits = len(h.table.hits)
    rng = random.Random(4592)
    for _ in range(1000):
        label = "".join(rng.choices(string.ascii_lowercase, k=10))
        assert yamlzones.ask(h, f"{label}.example.test.", "A").rcode == "NXDOMAIN"
        assert yamlzones.ask(h, f"{label}.apps.example.test.", "A").rcode == "NOERROR"
        assert yamlzones.ask(h, "web.example.test.", f"TYPE{rng.randrange(100, 60000)}").rcode == (
            "NOERROR"
        )
    assert len(h.table.memo) == 100
    assert len(h.table.hits) == hits  # the pre-rendered table never grows
    assert len(h.table.nodata) <= 6  # one per existing name at most


def test_the_memo_keeps_what_is_asked_most_recently(tmp_path: Path) -> None:
    h, _ = yamlzones.make(tmp_path, ZONE, memo_size=3)
    first = yamlzones.raw(h, "a.example.test.", "A")
    yamlzones.raw(h, "b.example.test.", "A")
    yamlzones.raw(h, "c.example.test.", "A")
    assert yamlzones.raw(h, "a.example.test.", "A") is first  # used again: now the newest
    yamlzones.raw(h, "d.example.test.", "A")  # evicts b, the least recently used
    assert yamlzones.raw(h, "a.example.test.", "A") is first
    assert set(h.table.memo) == {
        yamlzones.request(n, "A").key
        for n in ("a.example.test.", "c.example.test.", "d.example.test.")
    }


def test_names_with_odd_bytes_get_well_formed_answers(tmp_path: Path) -> None:
    # A dot inside a label cannot go through dnslib's text names; the wire form is used.
    h, _ = yamlzones.make(tmp_path, ZONE)
    reply = yamlzones.ask(h, "a\\.b.apps.example.test.", "A")
    assert reply.answer == ["a\\.b.apps.example.test. 300 IN A 10.0.0.9"]
    reply = yamlzones.ask(h, "we\\009ird.example.test.", "A")
    assert reply.rcode == "NXDOMAIN"
