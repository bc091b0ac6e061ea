"""Names with any bytes (dots, backslashes, quotes, semicolons, spaces, 0x00, 0xff) go through
``.Name`` into record text and back into records: the reply parses, the owner is the question.

``.Name`` is presentation text with RFC 1035 escapes, which the record parser reads back; an
unescaped ``;`` or ``"`` would cut or break the record.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.message
import dns.name
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import clients, kdnsproc

COREFILE = """\
.:{port} {
    template IN A echo.test {
      answer "{{ .Name }} 60 IN A 192.0.2.1"
    }
    template IN TXT echo.test {
      answer "{{ .Name }} 60 IN TXT {{ .Name }} {{ index .Match 0 }}"
    }
    template IN PTR echo.test {
      answer "{{ .Name }} 60 IN PTR {{ .Name }}"
    }
}
"""
SPECIAL = b'.\\$ "();@\x00\xff\x7fAZaz09-_*'


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        yield srv


labels = st.lists(
    st.lists(st.sampled_from(SPECIAL) | st.integers(0, 255), min_size=1, max_size=12).map(bytes),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(prefix=labels, rdtype=st.sampled_from(["A", "TXT", "PTR"]), tcp=st.booleans())
def test_the_rendered_owner_is_the_question(
    server: kdnsproc.Server, prefix: list[bytes], rdtype: str, tcp: bool
) -> None:
    name = dns.name.Name([*prefix, b"echo", b"test", b""])
    query = dns.message.make_query(name, rdtype)
    reply = clients.exchange(query.to_wire(), server.port, proto="tcp" if tcp else "udp")
    assert reply is not None
    parsed = dns.message.from_wire(reply)
    assert parsed.rcode() == dns.rcode.NOERROR, parsed
    (rrset,) = parsed.answer
    assert rrset.name == name
    if rdtype == "PTR":
        assert rrset[0].target == name
    if rdtype == "TXT":
        assert len(rrset[0].strings) == 2  # each escaped name stays one character-string
