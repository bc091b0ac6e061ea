"""The ClusterRole grants list and watch on what the kubernetes plugin watches, and nothing else.

The expected rules come from the plugin's own list (`KubeOptions.watched` with every option that
adds a resource), so this breaks when the plugin starts watching something new.
"""

from __future__ import annotations

from kdns.kube import controller, resources
from tests.support import manifests

#: The only requests kdns's watch layer makes (kdns/kube/watch.py): collection lists and watches.
VERBS = {"list", "watch"}


def granted() -> set[tuple[str, str, str]]:
    role = manifests.one("ClusterRole", "system:kdns")
    out = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no resourceNames etc.
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((group, resource, verb))
    return out


def needed() -> set[tuple[str, str, str]]:
    watched = controller.KubeOptions(pods_mode="verified").watched()
    return {(r.group, r.plural, verb) for r in watched for verb in VERBS}


def test_the_role_is_exactly_what_the_plugin_needs() -> None:
    assert granted() == needed()


def test_the_plugin_needs_the_four_resources_kdns_documents() -> None:
    watched = set(controller.KubeOptions(pods_mode="verified").watched())
    assert watched == set(resources.ALL)
    assert {r.qualified for r in watched} == {
        "services",
        "pods",
        "namespaces",
        "endpointslices.discovery.k8s.io",
    }


def test_no_legacy_endpoints_no_wildcards_no_writes() -> None:
    rules = granted()
    assert not any(resource == "endpoints" for _, resource, _ in rules)
    assert not any("*" in (group, resource, verb) for group, resource, verb in rules)
    assert {verb for _, _, verb in rules} == VERBS


def test_the_binding_gives_the_role_to_the_deployments_service_account() -> None:
    binding = manifests.one("ClusterRoleBinding", "system:kdns")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:kdns",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kdns", "namespace": "kube-system"}
    ]
    account = manifests.one("ServiceAccount", "kdns")
    assert account["metadata"]["namespace"] == "kube-system"
    pod = manifests.one("Deployment", "kdns")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kdns"
    assert pod.get("automountServiceAccountToken", True) is True
