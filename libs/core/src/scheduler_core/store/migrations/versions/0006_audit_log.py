"""The audit trail: scheduler_audit_log, one row per change made through the API (or by the history cleanup).

Who (the token's `sub` and a display name), when (occurred_at, the database clock), what (action, job_id, target,
changes: field -> {before, after}), from where (client_address, request_id). job_id has no foreign key: the trail
of a job outlives the job. Indexes: one per filter of GET /audit, each ending in (occurred_at, id), the order
every list is read in (newest first, keyset paging).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "scheduler_audit_log"
# Copied from the models, not imported: a migration must not change when the code does.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
INDEXES = {
    "ix_scheduler_audit_log_occurred": ["occurred_at", "id"],
    "ix_scheduler_audit_log_job": ["job_id", "occurred_at", "id"],
    "ix_scheduler_audit_log_actor_subject": ["actor_subject", "occurred_at", "id"],
    "ix_scheduler_audit_log_actor_name": ["actor_name", "occurred_at", "id"],
    "ix_scheduler_audit_log_action": ["action", "occurred_at", "id"],
}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_subject", sa.String(length=255), nullable=True),
        sa.Column("actor_name", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("changes", JSON_DOC, nullable=True),
        sa.Column("client_address", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_audit_log")),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name=TABLE)
    op.drop_table(TABLE)
