"""Where a Kubernetes object lands, and whether a `kubernetes` target lets a component put it there.

Owns: the list of well-known cluster-scoped kinds, reading the scope of custom kinds from the
CustomResourceDefinitions a deployment itself carries, the namespace an object will actually use
(`placement`), and a target's namespace limits (`NamespaceLimits`, from its `namespaces` and
`cluster_scoped` settings) with the refusal each broken limit gets.

Why a list: a plan is made (and policy asked) without talking to any cluster, so whether a kind is
cluster-scoped is decided from this list plus the CRDs in the deployment. A custom kind defined
outside the deployment and absent from the list is taken as namespaced here. The delivery asks the
cluster's discovery instead (`lockstep.targets.kubernetes`), so the target's limits are enforced on
what the API server says even where this list is wrong or out of date.

Deliberately does not: talk to a cluster, or decide policy (that is Rego's, `policies/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lockstep.domain.models import PlannedObject

DEFAULT_NAMESPACE = "default"  # a kubernetes target's `namespace` when it names none

# (API group, kind) of the cluster-scoped kinds Kubernetes itself serves, "" being the core group.
CLUSTER_SCOPED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("policy", "PodSecurityPolicy"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("storagemigration.k8s.io", "StorageVersionMigration"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
    }
)


def group_of(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    return api_version.rpartition("/")[0]


def declared_scopes(objects: Iterable[Mapping[str, object]]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> cluster-scoped, for each custom kind a CustomResourceDefinition among
    `objects` defines (`spec.scope: Cluster` or `Namespaced`)."""
    scopes: dict[tuple[str, str], bool] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        if group_of(str(obj.get("apiVersion", ""))) != "apiextensions.k8s.io":
            continue
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            continue
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, dict) else None
        group, scope = spec.get("group"), spec.get("scope")
        if isinstance(kind, str) and isinstance(group, str) and scope in ("Cluster", "Namespaced"):
            scopes[(group, kind)] = scope == "Cluster"
    return scopes


def is_cluster_scoped(api_version: str, kind: str, declared: Mapping[tuple[str, str], bool]) -> bool:
    key = (group_of(api_version), kind)
    return declared.get(key, key in CLUSTER_SCOPED_KINDS)


def placement(
    obj: Mapping[str, object], *, namespace: str, declared: Mapping[tuple[str, str], bool]
) -> PlannedObject:
    """Where `obj` lands on a target whose namespace is `namespace`: its own
    `metadata.namespace` wins, cluster-scoped kinds get none (as the API server ignores it)."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    own = meta.get("namespace")
    where: str | None = None
    if not is_cluster_scoped(api_version, kind, declared):
        where = own if isinstance(own, str) and own else namespace
    return PlannedObject(apiVersion=api_version, kind=kind, namespace=where, name=str(meta.get("name", "")))


@dataclass(frozen=True)
class NamespaceLimits:
    """What a `kubernetes` target lets components place (its server-configuration settings).

    `namespaces` None: any namespace. Otherwise the namespaces objects may go to (it always holds
    the target's own `namespace`; the settings refuse a list without it).
    """

    target: str
    namespace: str
    namespaces: tuple[str, ...] | None = None
    cluster_scoped: bool = True

    @property
    def restricts(self) -> bool:
        return self.namespaces is not None or not self.cluster_scoped

    def refusal(self, component: str, kind: str, namespace: str | None, name: str) -> str | None:
        """Why this target refuses the object (namespace None or "": cluster-scoped), or None."""
        if not namespace:
            if self.cluster_scoped:
                return None
            return (
                f'component "{component}": {kind}/{name} is cluster-scoped, and target "{self.target}" '
                "takes no cluster-scoped objects (cluster_scoped: false in the server configuration); "
                "move it to a component on a target that allows them, or set cluster_scoped: true on "
                f'"{self.target}"'
            )
        if self.namespaces is None or namespace in self.namespaces:
            return None
        return (
            f'component "{component}": {kind}/{namespace}/{name} goes to namespace "{namespace}", which '
            f'target "{self.target}" does not allow (namespaces: {", ".join(self.namespaces)} in the '
            f'server configuration); drop its metadata.namespace, or add "{namespace}" to the '
            "target's namespaces"
        )

    def refusals(self, component: str, objects: Sequence[PlannedObject]) -> list[str]:
        """One refusal per object this target does not take, in the component's order."""
        found = (self.refusal(component, o.kind, o.namespace, o.name) for o in objects)
        return [r for r in found if r is not None]
