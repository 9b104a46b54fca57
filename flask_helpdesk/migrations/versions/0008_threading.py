"""Thread keys know their origin, ticket participants, the group's reply to resolved

Revision ID: 0008_threading
Revises: 0007_agent_notifications
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_threading"
down_revision = "0007_agent_notifications"
branch_labels = None
depends_on = None

#: SQLite batch mode copies the table; the tables it refers to need no reflection
#: (helpdesk_tickets has expression indexes SQLite cannot reflect).
_REFLECT = {"resolve_fks": False}


def upgrade() -> None:
    with op.batch_alter_table("helpdesk_thread_keys", reflect_kwargs=_REFLECT) as batch:
        batch.add_column(sa.Column("outbound", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # Keys stored before this revision: a key is an inbound message's when an
    # inbound message has it as its id; every other key came from a delivery
    # receipt (or a channel's own scheme) and keeps threading any reply.
    op.execute(sa.text(
        "UPDATE helpdesk_thread_keys SET outbound = :yes WHERE NOT EXISTS ("
        " SELECT 1 FROM helpdesk_messages m WHERE m.kind = 'inbound'"
        " AND m.channel = helpdesk_thread_keys.channel"
        " AND m.account = helpdesk_thread_keys.account"
        " AND m.external_id = helpdesk_thread_keys.key)").bindparams(yes=True))
    with op.batch_alter_table("helpdesk_groups", reflect_kwargs=_REFLECT) as batch:
        batch.add_column(sa.Column("resolved_reply", sa.String(length=10), nullable=False,
                                   server_default="reopen"))
    op.create_table(
        "helpdesk_ticket_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["helpdesk_tickets.id"],
            name=op.f("fk_helpdesk_ticket_participants_ticket_id_helpdesk_tickets"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_ticket_participants")),
        sa.UniqueConstraint("ticket_id", "kind", "value",
                            name=op.f("uq_helpdesk_ticket_participants_ticket_id_kind_value")),
    )


def downgrade() -> None:
    op.drop_table("helpdesk_ticket_participants")
    with op.batch_alter_table("helpdesk_groups", reflect_kwargs=_REFLECT) as batch:
        batch.drop_column("resolved_reply")
    with op.batch_alter_table("helpdesk_thread_keys", reflect_kwargs=_REFLECT) as batch:
        batch.drop_column("outbound")
