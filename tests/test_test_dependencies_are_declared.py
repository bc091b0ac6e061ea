"""Every third-party module the tests import comes from a distribution pyproject.toml declares.

tests/run.sh builds its virtual environment from the declared extras only, so an undeclared
import fails there; this test names the culprit even where the environment happens to have it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"kdns", "tests"}


def imported_modules(directory: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], path)
    return found


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return {
        re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def test_every_third_party_import_of_the_tests_is_declared() -> None:
    local = LOCAL | {p.stem for p in (ROOT / "tests").rglob("*.py")}
    providers = importlib.metadata.packages_distributions()
    wanted = declared()
    undeclared = []
    for module, path in imported_modules(ROOT / "tests").items():
        if module in sys.stdlib_module_names or module in local or module == "__future__":
            continue
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not dists & wanted:
            undeclared.append(f"{module} ({path.relative_to(ROOT)})")
    assert undeclared == []
