"""The API resources kdns watches, and how their URLs and RBAC names are spelled."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """One API resource type, for example ``endpointslices`` in ``discovery.k8s.io/v1``."""

    #: API group; ``""`` is the core group served under ``/api``.
    group: str
    #: API version within the group.
    version: str
    #: The plural used in URLs and RBAC rules.
    plural: str
    #: The object kind, as written in watch events.
    kind: str

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The name RBAC and kubectl use: ``services``, ``endpointslices.discovery.k8s.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None) -> str:
        """The collection URL path, cluster-wide or in one namespace."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


SERVICES = Resource(group="", version="v1", plural="services", kind="Service")
ENDPOINTSLICES = Resource(
    group="discovery.k8s.io", version="v1", plural="endpointslices", kind="EndpointSlice"
)
NAMESPACES = Resource(group="", version="v1", plural="namespaces", kind="Namespace")
PODS = Resource(group="", version="v1", plural="pods", kind="Pod")

ALL: tuple[Resource, ...] = (SERVICES, ENDPOINTSLICES, NAMESPACES, PODS)
