"""Agent notifications of the rules' notify action

Revision ID: 0007_agent_notifications
Revises: 0006_drafts
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_agent_notifications"
down_revision = "0006_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_agent_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("email_state", sa.String(length=10), nullable=True),
        sa.Column("emailed_at", sa.DateTime(), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["helpdesk_agents.id"],
            name=op.f("fk_helpdesk_agent_notifications_agent_id_helpdesk_agents"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["helpdesk_tickets.id"],
            name=op.f("fk_helpdesk_agent_notifications_ticket_id_helpdesk_tickets"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_agent_notifications")),
    )
    op.create_index("ix_helpdesk_agent_notifications_agent", "helpdesk_agent_notifications",
                    ["agent_id", "read_at"], unique=False)
    op.create_index(op.f("ix_helpdesk_agent_notifications_ticket_id"),
                    "helpdesk_agent_notifications", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_agent_notifications_ticket_id"),
                  table_name="helpdesk_agent_notifications")
    op.drop_index("ix_helpdesk_agent_notifications_agent",
                  table_name="helpdesk_agent_notifications")
    op.drop_table("helpdesk_agent_notifications")
