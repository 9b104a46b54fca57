"""Reply templates, their files and their uses

Revision ID: 0004_reply_templates
Revises: 0003_rules
Create Date: 2026-12-02 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_reply_templates"
down_revision = "0003_rules"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "helpdesk_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("owner_agent_id", sa.Integer(), nullable=True),
        sa.Column("actions", _JSON, nullable=False),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_agent_id"], ["helpdesk_agents.id"],
            name=op.f("fk_helpdesk_templates_owner_agent_id_helpdesk_agents"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["helpdesk_agents.id"],
            name=op.f("fk_helpdesk_templates_created_by_id_helpdesk_agents"),
            ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_templates")),
    )
    op.create_index("ix_helpdesk_templates_owner_usage", "helpdesk_templates",
                    ["owner_agent_id", "usage_count"], unique=False)
    op.create_table(
        "helpdesk_template_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"], ["helpdesk_templates.id"],
            name=op.f("fk_helpdesk_template_attachments_template_id_helpdesk_templates"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_template_attachments")),
    )
    op.create_index(op.f("ix_helpdesk_template_attachments_template_id"),
                    "helpdesk_template_attachments", ["template_id"], unique=False)
    op.create_table(
        "helpdesk_template_usages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"], ["helpdesk_templates.id"],
            name=op.f("fk_helpdesk_template_usages_template_id_helpdesk_templates"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["helpdesk_agents.id"],
            name=op.f("fk_helpdesk_template_usages_agent_id_helpdesk_agents"),
            ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["helpdesk_tickets.id"],
            name=op.f("fk_helpdesk_template_usages_ticket_id_helpdesk_tickets"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["helpdesk_messages.id"],
            name=op.f("fk_helpdesk_template_usages_message_id_helpdesk_messages"),
            ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_template_usages")),
    )
    op.create_index("ix_helpdesk_template_usages_template_at", "helpdesk_template_usages",
                    ["template_id", "at"], unique=False)
    op.create_index("ix_helpdesk_template_usages_agent_at", "helpdesk_template_usages",
                    ["agent_id", "at"], unique=False)
    op.create_index(op.f("ix_helpdesk_template_usages_ticket_id"), "helpdesk_template_usages",
                    ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_template_usages_ticket_id"),
                  table_name="helpdesk_template_usages")
    op.drop_index("ix_helpdesk_template_usages_agent_at", table_name="helpdesk_template_usages")
    op.drop_index("ix_helpdesk_template_usages_template_at",
                  table_name="helpdesk_template_usages")
    op.drop_table("helpdesk_template_usages")
    op.drop_index(op.f("ix_helpdesk_template_attachments_template_id"),
                  table_name="helpdesk_template_attachments")
    op.drop_table("helpdesk_template_attachments")
    op.drop_index("ix_helpdesk_templates_owner_usage",
                  table_name="helpdesk_templates")
    op.drop_table("helpdesk_templates")
