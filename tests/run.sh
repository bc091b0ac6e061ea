#!/usr/bin/env bash
# Install everything the test suite needs, then run it: ruff, then pytest.
#
#   bash tests/run.sh [--python INTERPRETER] [PYTEST ARGS...]
#
# System tools come from Debian's packages (dig for real-client tests, iproute2 and
# util-linux for network namespaces, unbound as a real upstream, venv for Python). Python
# packages are installed from the declared extras only (`.[test]`) into a virtual environment:
# the active one (VIRTUAL_ENV), else `.venv` (`.venv-X.Y` with --python), created without the
# system's site-packages, so an undeclared test dependency fails here as it would on a clean
# machine, and a distribution's externally managed Python (PEP 668) is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
if [ "${1:-}" = "--python" ]; then
    python="${2:?--python needs an interpreter, e.g. python3.13}"
    shift 2
fi

sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo="sudo"; fi
apt_install() {
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
need=()
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /usr/sbin/unbound ] || need+=(unbound)

if [ -n "$python" ] || [ -z "${VIRTUAL_ENV:-}" ]; then
    python="${python:-python3}"
    version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    venv=".venv"
    [ "$python" = python3 ] || venv=".venv-$version"
    # Debian ships venv's ensurepip separately (python3.X-venv).
    if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip' 2>/dev/null; then
        need+=("python$version-venv")
    fi
else
    venv="$VIRTUAL_ENV"
fi
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
py="$venv/bin/python"

"$py" -m pip install -q --disable-pip-version-check -e '.[test]'
"$py" -m ruff check .
"$py" -m ruff format --check .
exec "$py" -m pytest -q -p no:cacheprovider "$@"
