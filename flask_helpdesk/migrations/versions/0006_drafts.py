"""Server-side drafts of replies and notes

Revision ID: 0006_drafts
Revises: 0005_business_hours
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_drafts"
down_revision = "0005_business_hours"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("seen_event_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["helpdesk_tickets.id"],
            name=op.f("fk_helpdesk_drafts_ticket_id_helpdesk_tickets"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["helpdesk_agents.id"],
            name=op.f("fk_helpdesk_drafts_agent_id_helpdesk_agents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["template_id"], ["helpdesk_templates.id"],
            name=op.f("fk_helpdesk_drafts_template_id_helpdesk_templates"),
            ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_drafts")),
        sa.UniqueConstraint("ticket_id", "agent_id", "kind",
                            name=op.f("uq_helpdesk_drafts_ticket_id_agent_id_kind")),
    )
    op.create_index(op.f("ix_helpdesk_drafts_agent_id"), "helpdesk_drafts", ["agent_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_drafts_agent_id"), table_name="helpdesk_drafts")
    op.drop_table("helpdesk_drafts")
