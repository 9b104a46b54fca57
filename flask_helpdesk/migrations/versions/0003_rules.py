"""Automation rules, their firing ledger and manual runs

Revision ID: 0003_rules
Revises: 0002_channel_accounts
Create Date: 2026-11-22 22:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_rules"
down_revision = "0002_channel_accounts"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "helpdesk_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("when", _JSON, nullable=False),
        sa.Column("conditions", _JSON, nullable=False),
        sa.Column("actions", _JSON, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_helpdesk_rules_name")),
    )
    op.create_table(
        "helpdesk_rule_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.DateTime(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["helpdesk_rules.id"],
                                name=op.f("fk_helpdesk_rule_firings_rule_id_helpdesk_rules"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["helpdesk_tickets.id"],
                                name=op.f("fk_helpdesk_rule_firings_ticket_id_helpdesk_tickets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rule_firings")),
        sa.UniqueConstraint("rule_id", "ticket_id", "anchor",
                            name=op.f("uq_helpdesk_rule_firings_rule_id_ticket_id_anchor")),
    )
    op.create_index(op.f("ix_helpdesk_rule_firings_ticket_id"), "helpdesk_rule_firings",
                    ["ticket_id"], unique=False)
    op.create_table(
        "helpdesk_rule_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("touched", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["helpdesk_rules.id"],
                                name=op.f("fk_helpdesk_rule_runs_rule_id_helpdesk_rules"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rule_runs")),
    )
    op.create_index(op.f("ix_helpdesk_rule_runs_rule_id"), "helpdesk_rule_runs", ["rule_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_rule_runs_rule_id"), table_name="helpdesk_rule_runs")
    op.drop_table("helpdesk_rule_runs")
    op.drop_index(op.f("ix_helpdesk_rule_firings_ticket_id"), table_name="helpdesk_rule_firings")
    op.drop_table("helpdesk_rule_firings")
    op.drop_table("helpdesk_rules")
