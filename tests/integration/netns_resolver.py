"""Run inside a private network and mount namespace: glibc's resolver against kdns on port 53.

``test_glibc_resolves_cluster_names.py`` starts this module under ``unshare`` with
``/etc/resolv.conf`` bind-mounted from a file it owns. Everything the check needs lives in the
namespace: the loopback interface, the fake API server (on 127.0.0.1 of *this* namespace, which
the root namespace cannot reach and vice versa), and kdns listening on 127.0.0.1:53. For each
variant of the pod's resolv.conf it times ``getent hosts`` / ``getent ahosts`` on short names
that only the search path completes, and prints one JSON line per lookup.

Usage: ``python -m tests.integration.netns_resolver`` (as root inside the namespace).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import apiserver as fa
from tests.support import kdnsproc, kube_e2e

CLUSTER_IP = "10.96.0.50"
#: kubelet's resolv.conf for a pod in namespace "default" (dnsPolicy ClusterFirst).
RESOLV = """\
nameserver 127.0.0.1
search default.svc.cluster.local svc.cluster.local cluster.local
options ndots:5{extra}
"""
VARIANTS = ("", "single-request", "single-request-reopen", "use-vc")
LOOKUPS = (
    ("hosts", "my-app"),
    ("hosts", "my-app.default"),
    ("hosts", "my-app.default.svc"),
    ("ahosts", "my-app"),
)
COREFILE = """\
cluster.local:53 in-addr.arpa:53 {
    bind 127.0.0.1
    errors
    log
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa {
        kubeconfig KUBECONFIG
        startup_timeout 10s
    }
}
"""


def main() -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with kube_e2e.api_server() as api, tempfile.TemporaryDirectory(prefix="kdns-netns-") as tmp:
        api.start()
        for ns in ("default", "kube-system"):
            api.create(fa.namespace(ns))
        api.create(fa.service("my-app", "default", cluster_ips=[CLUSTER_IP]))
        kubeconfig = api.call(lambda: api.api.write_kubeconfig(Path(tmp, "kubeconfig.yaml")))
        corefile = Path(tmp, "Corefile")
        corefile.write_text(COREFILE.replace("KUBECONFIG", str(kubeconfig)))
        proc = kdnsproc.KdnsProcess(["-conf", str(corefile)], cwd=tmp)
        try:
            kdnsproc.wait_serving("127.0.0.1", 53, proc)
            kube_e2e.wait_for(
                lambda: kube_e2e.Kdns(None, 8181, 0).ready()[0] == 200,  # type: ignore[arg-type]
                timeout=15,
                interval=0.05,
            )
            for extra in VARIANTS:
                Path("/etc/resolv.conf").write_text(
                    RESOLV.format(extra=f" {extra}" if extra else "")
                )
                for database, name in LOOKUPS:
                    seen = len(proc.lines)
                    start = time.monotonic()
                    done = subprocess.run(
                        ["getent", database, name],
                        capture_output=True,
                        text=True,
                        timeout=30,
                        check=False,
                    )
                    seconds = time.monotonic() - start
                    time.sleep(0.05)  # let kdns's log lines for this lookup arrive
                    queries = [line for line in proc.lines[seen:] if '"' in line]
                    record = {
                        "options": extra or "(none)",
                        "command": f"getent {database} {name}",
                        "seconds": round(seconds, 4),
                        "rc": done.returncode,
                        "output": done.stdout.strip(),
                        # CoreDNS's log format: "TYPE CLASS NAME PROTO SIZE DO BUFSIZE" RCODE ...
                        "queries": [
                            q.split('"')[1] + " " + q.split('"')[2].split()[0] for q in queries
                        ],
                    }
                    print(json.dumps(record), flush=True)
        finally:
            proc.stop()
            sys.stderr.write(proc.output + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
