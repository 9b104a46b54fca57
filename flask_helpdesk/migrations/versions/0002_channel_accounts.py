"""Channel accounts, fetch cursors and the inbound quarantine

Revision ID: 0002_channel_accounts
Revises: 0001
Create Date: 2026-11-22 22:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_channel_accounts"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "helpdesk_channel_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("backlog", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["helpdesk_groups.id"],
            name=op.f("fk_helpdesk_channel_accounts_group_id_helpdesk_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_channel_accounts")),
        sa.UniqueConstraint(
            "channel", "name", name=op.f("uq_helpdesk_channel_accounts_channel_name")
        ),
    )
    op.create_table(
        "helpdesk_channel_cursors",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["helpdesk_channel_accounts.id"],
            name=op.f("fk_helpdesk_channel_cursors_account_id_helpdesk_channel_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "folder", name=op.f("pk_helpdesk_channel_cursors")),
    )
    op.create_table(
        "helpdesk_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_quarantine")),
    )
    op.create_index(
        op.f("ix_helpdesk_quarantine_channel"), "helpdesk_quarantine", ["channel"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_quarantine_channel"), table_name="helpdesk_quarantine")
    op.drop_table("helpdesk_quarantine")
    op.drop_table("helpdesk_channel_cursors")
    op.drop_table("helpdesk_channel_accounts")
