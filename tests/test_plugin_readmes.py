"""Every plugin's README has CoreDNS's sections, and every ``corefile`` example in it loads.

CoreDNS's ``test/readme_test.go`` does the same for its plugins: documentation that shows a
Corefile kdns would reject is a bug.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdns import config, corefile, plugins

PLUGINS = Path(plugins.__file__).parent
READMES = sorted(PLUGINS.glob("*/README.md"))
EXAMPLES = [
    pytest.param(readme, example, id=f"{readme.parent.name}-{i}")
    for readme in READMES
    for i, example in enumerate(
        re.findall(r"~~~ corefile\n(.*?)~~~", readme.read_text(), flags=re.S)
    )
]
REQUIRED = ["Name", "Description", "Syntax", "Examples"]
ZONE = "zone: {zone}\nrecords:\n  www: {{A: 192.0.2.1}}\n"
#: A zone file for ``file`` examples (read with each zone of the block as its origin).
ZONE_FILE = "$TTL 60\n@ SOA ns hostmaster 1 7200 1800 86400 60\n@ NS ns\nns A 192.0.2.53\n"


def test_every_plugin_has_a_readme() -> None:
    packages = {p.parent.name for p in PLUGINS.glob("*/setup.py")}
    assert packages == {r.parent.name for r in READMES}


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_readme_has_the_coredns_sections_in_order(readme: Path) -> None:
    headings = re.findall(r"^## (.+)$", readme.read_text(), flags=re.M)
    assert [h for h in headings if h in REQUIRED] == REQUIRED, headings
    assert readme.read_text().startswith(f"# {readme.parent.name}\n")


#: A kubeconfig for ``kubernetes`` examples: one context, named as the example names it.
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:6443"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: {context}, context: {{cluster: c, user: u}}}}]
current-context: {context}
"""


@pytest.mark.parametrize(("readme", "example"), EXAMPLES)
def test_readme_corefile_examples_load(
    readme: Path, example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Relative files an example names (hosts files, record zones) are created beside it;
    # absolute paths (/etc/resolv.conf, /etc/hosts) are the machine's and are only read.
    for name in re.findall(r"(\S+\.(?:yaml|hosts))\b", example):
        if Path(name).is_absolute() or ".." in Path(name).parts:
            continue
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ZONE.format(zone=Path(name).stem) if name.endswith(".yaml") else "")
    for name in re.findall(r"^\s*file\s+(\S+)", example, flags=re.M):
        (tmp_path / name).write_text(ZONE_FILE)
    for name, context in re.findall(r"^\s*kubeconfig\s+(\S+)[ \t]*(\S*)", example, flags=re.M):
        if not Path(name).is_absolute():
            (tmp_path / name).write_text(KUBECONFIG.format(context=context or "default"))
    loaded = config.load(corefile.parse(example, filename=str(tmp_path / "Corefile")))
    names = {name for server in loaded.servers for name, _ in server.factories}
    setups = {d.name for server in loaded.servers for d in server.block.directives}
    assert readme.parent.name in names | setups
