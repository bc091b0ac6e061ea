"""``kdns -validate``: every problem of a Corefile, found without serving it.

The Corefile is parsed and every directive's setup runs, as at start (files it names are read,
kubeconfigs loaded), but no startup hook runs: no socket is opened and the API server is not
contacted. Unlike a start, a failing directive does not stop the check, so one run names every
problem, each as ``FILE:LINE - reason`` (CoreDNS plugins kdns lacks among them). A syntax error
stops it: what follows cannot be read.
"""

from __future__ import annotations

from pathlib import Path

from kdns import config, corefile
from kdns.errors import ConfigError


def problems(path: Path, default_port: int = config.DEFAULT_PORT) -> list[str]:
    """One line per problem; empty when the Corefile would start."""
    try:
        blocks = corefile.load(path)
    except FileNotFoundError as err:
        return [f"Corefile {err.filename}: no such file"]
    except ConfigError as err:
        return [str(err)]
    found: list[ConfigError] = []
    config.load(blocks, default_port=default_port, problems=found)
    return [str(err) for err in found]
