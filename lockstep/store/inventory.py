"""The inventory of Kubernetes objects each deployment applied, per component.

Owns the `kubernetes_inventory` table and its repository functions. A row is written BEFORE its
object is applied (write-ahead) and says whether the object existed then (`created`: it did not),
and whether an existing one carried this component's owner mark (`found_owned`); the first write
wins, so a retried activity — which finds the object it created a moment ago — cannot turn
"created by this deployment" into "was already there". Rollback deletes exactly the rows with
`created`; `previous_objects` gives pruning and the preview (`lockstep plan`) what the live
revision applied that is Lockstep's, so an object a component dropped is deleted and shows as
`deleted`.

`StoreInventory` implements `lockstep.delivery.kubernetes.InventoryJournal` for one (deployment,
component), together with its steps, whose output it stores with known secrets masked.
Committing is the session's job (`Store.session`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from lockstep.domain.kube_objects import ObjectRef
from lockstep.domain.masking import Masker
from lockstep.store.inserts import insert_or_get
from lockstep.store.revisions import last_revisions
from lockstep.store.steps import record_step, steps_for
from lockstep.store.tables import UTCDateTime, utcnow

if TYPE_CHECKING:
    from lockstep.store.engine import Store


class KubernetesInventoryRecord(SQLModel, table=True):
    """One object a deployment applied (or was about to apply) for one component."""

    __tablename__ = "kubernetes_inventory"
    __table_args__ = (
        UniqueConstraint(
            "deployment_id",
            "component",
            "api_group",
            "kind",
            "namespace",
            "name",
            name="uq_kubernetes_inventory_key",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: str = Field(index=True)
    application: str
    environment: str
    component: str
    commit: str
    api_group: str  # "" for the core group; the version is not part of an object's identity
    api_version: str
    kind: str
    namespace: str = ""  # "" for cluster-scoped objects
    name: str
    created: bool  # it did not exist before this deployment applied it
    # It existed, carrying this component's owner annotation (Lockstep's from an earlier
    # deployment); None in rows written before Lockstep marked its objects.
    found_owned: bool | None = None
    applied: bool = False
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.api_version, self.kind, self.namespace, self.name)


def record_intent(
    *,
    session: Session,
    deployment_id: str,
    application: str,
    environment: str,
    component: str,
    commit: str,
    ref: ObjectRef,
    existed: bool,
    owned: bool = False,
) -> KubernetesInventoryRecord:
    """Record that `ref` is about to be applied; an existing row is kept as it is (first write wins)."""
    key = (deployment_id, component, ref)
    row = _find(session, *key)
    if row is None:
        candidate = KubernetesInventoryRecord(
            deployment_id=deployment_id,
            application=application,
            environment=environment,
            component=component,
            commit=commit,
            api_group=ref.group,
            api_version=ref.api_version,
            kind=ref.kind,
            namespace=ref.namespace,
            name=ref.name,
            created=not existed,
            found_owned=existed and owned,
        )
        row = insert_or_get(session, candidate, partial(_find, session, *key))
    return row


def mark_applied(*, session: Session, deployment_id: str, component: str, refs: Sequence[ObjectRef]) -> None:
    for ref in refs:
        row = _find(session, deployment_id, component, ref)
        if row is not None and not row.applied:
            row.applied = True
    session.flush()


def inventory(*, session: Session, deployment_id: str, component: str) -> list[KubernetesInventoryRecord]:
    """The objects a deployment recorded for a component, in recording order."""
    query = (
        select(KubernetesInventoryRecord)
        .where(
            KubernetesInventoryRecord.deployment_id == deployment_id,
            KubernetesInventoryRecord.component == component,
        )
        .order_by(col(KubernetesInventoryRecord.id))
    )
    return list(session.exec(query).all())


def _find(
    session: Session, deployment_id: str, component: str, ref: ObjectRef
) -> KubernetesInventoryRecord | None:
    query = select(KubernetesInventoryRecord).where(
        KubernetesInventoryRecord.deployment_id == deployment_id,
        KubernetesInventoryRecord.component == component,
        KubernetesInventoryRecord.api_group == ref.group,
        KubernetesInventoryRecord.kind == ref.kind,
        KubernetesInventoryRecord.namespace == ref.namespace,
        KubernetesInventoryRecord.name == ref.name,
    )
    return session.exec(query).first()


class StoreInventory:
    """The inventory and steps of one (deployment, component) in the system of record."""

    def __init__(
        self,
        store: Store,
        *,
        deployment_id: str,
        application: str,
        environment: str,
        component: str,
        commit: str,
        masker: Masker,
    ) -> None:
        self._store = store
        self._masker = masker  # outputs are stored with the secrets this worker knows masked
        self._deployment_id = deployment_id
        self._application = application
        self._environment = environment
        self._component = component
        self._commit = commit

    def remember(
        self, entries: Sequence[tuple[ObjectRef, bool]], *, owned: Sequence[ObjectRef] = ()
    ) -> dict[ObjectRef, bool]:
        """Write-ahead: (ref, existed now) per object, `owned` those found carrying this
        component's owner mark; returns ref -> created, as first recorded."""
        marked = set(owned)
        with self._store.session() as session:
            rows = [
                record_intent(
                    session=session,
                    deployment_id=self._deployment_id,
                    application=self._application,
                    environment=self._environment,
                    component=self._component,
                    commit=self._commit,
                    ref=ref,
                    existed=existed,
                    owned=ref in marked,
                )
                for ref, existed in entries
            ]
            return {ref: row.created for (ref, _), row in zip(entries, rows, strict=True)}

    def applied(self, refs: Sequence[ObjectRef]) -> None:
        with self._store.session() as session:
            mark_applied(
                session=session, deployment_id=self._deployment_id, component=self._component, refs=refs
            )

    def entries(self) -> list[tuple[ObjectRef, bool]]:
        """(ref, created) for every object this deployment recorded for the component."""
        with self._store.session() as session:
            rows = inventory(session=session, deployment_id=self._deployment_id, component=self._component)
            return [(row.ref, row.created) for row in rows]

    def step_status(self, action: str, *, obj: str = "") -> str | None:
        """The last status of the component's step (`obj` empty) or one object's, None if none."""
        with self._store.session() as session:
            for row in steps_for(session=session, deployment_id=self._deployment_id):
                if (row.component, row.host, row.action) == (self._component, obj, action):
                    return row.status
        return None

    def step(
        self,
        action: str,
        status: str,
        output: str | None = None,
        *,
        attempt: int | None = None,
        obj: str = "",
    ) -> None:
        with self._store.session() as session:
            record_step(
                session=session,
                deployment_id=self._deployment_id,
                component=self._component,
                host=obj,  # a step's "host" is where it happened: here, the object
                action=action,
                status=status,
                output=self._masker.mask(output),
                attempt=attempt,
            )


def previous_objects(
    *, session: Session, application: str, environment: str, component: str
) -> list[ObjectRef]:
    """The objects the component's live revision applied (the latest succeeded deployment's
    inventory) that are Lockstep's: the latest record of each in this application, environment
    and component says Lockstep created it, or found it carrying this component's owner mark.
    A later record that found it present unmarked (someone deleted and recreated it, or it was
    there before Lockstep) makes it not Lockstep's: what a component that no longer has such an
    object leaves behind is never pruned."""
    live = last_revisions(session=session, application=application, environment=environment).get(component)
    if live is None:
        return []
    rows = session.exec(
        select(KubernetesInventoryRecord)
        .where(
            KubernetesInventoryRecord.application == application,
            KubernetesInventoryRecord.environment == environment,
            KubernetesInventoryRecord.component == component,
        )
        .order_by(col(KubernetesInventoryRecord.id))
    ).all()
    latest = {row.ref.key: row for row in rows}  # recording order: the last one wins
    ours = {key for key, row in latest.items() if row.created or row.found_owned}
    applied = inventory(session=session, deployment_id=live.deployment_id, component=component)
    return [row.ref for row in applied if row.applied and row.ref.key in ours]


def ever_applied(*, session: Session, application: str, environment: str, component: str) -> list[ObjectRef]:
    """Every object any deployment of the component in this environment applied (its inventory
    history, pruned and kept ones included): what is no surprise to find carrying its mark."""
    rows = session.exec(
        select(KubernetesInventoryRecord).where(
            KubernetesInventoryRecord.application == application,
            KubernetesInventoryRecord.environment == environment,
            KubernetesInventoryRecord.component == component,
        )
    ).all()
    return list({row.ref.key: row.ref for row in rows}.values())
