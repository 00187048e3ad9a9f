"""System of record: SQLModel tables and repository functions taking a keyword-only session.

The only package that imports SQLModel/SQLAlchemy. Modules: `engine` (engines, schema, `Store`
with transactional sessions), `tables` (the schema), `deployments` (deployment records, and the
re-exported step/prior-release functions of `steps` and revision functions of `revisions`).
It holds no business rules beyond keeping writes idempotent and final statuses final.
"""

from lockstep.store.engine import Store, create_schema, make_engine

__all__ = ["Store", "create_schema", "make_engine"]
