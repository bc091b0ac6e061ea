#!/usr/bin/env bash
# Install everything the test suite needs, then run it: ruff, mypy (strict on kdns/), the import
# layers, then pytest.
#
#   bash tests/run.sh [--python PYTHON] [PYTEST ARGS...]
#
# System tools come from Debian's packages (dig for real-client tests, iproute2 and util-linux
# for network namespaces, unbound as a real upstream, python3-venv where the interpreter lacks
# ensurepip). Python packages come from PyPI into a virtual environment made from the declared
# extras only (.venv, or .venv-X.Y for --python), never into the system Python: Debian's and
# Ubuntu's are externally managed (PEP 668), and an environment built from pyproject.toml alone
# makes a test import that no extra declares fail here rather than pass by luck. An already
# active virtual environment ($VIRTUAL_ENV) is used as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

python=python3
venv=.venv
if [ "${1:-}" = "--python" ]; then
    python="$2"
    shift 2
    venv=".venv-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
fi

sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo="sudo"; fi
need=()
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /usr/sbin/unbound ] || need+=(unbound)
if [ -z "${VIRTUAL_ENV:-}" ] && ! "$python" -c 'import ensurepip' 2>/dev/null; then
    need+=(python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -n "${VIRTUAL_ENV:-}" ]; then
    py="$VIRTUAL_ENV/bin/python"
else
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    py="$venv/bin/python"
fi
"$py" -m pip install -q --disable-pip-version-check -e '.[test]'
"$py" -m ruff check .
"$py" -m ruff format --check .
"$py" -m mypy
"$(dirname "$py")/lint-imports" --no-cache  # the layers: [tool.importlinter] in pyproject.toml
exec "$py" -m pytest -q -p no:cacheprovider "$@"
