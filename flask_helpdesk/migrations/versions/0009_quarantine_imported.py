"""Quarantined messages remember that they failed during an archive import

Revision ID: 0009_quarantine_imported
Revises: 0008_threading
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_quarantine_imported"
down_revision = "0008_threading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries kept before this revision count as fetched mail: which of them
    # came from an import is not recorded anywhere.
    with op.batch_alter_table("helpdesk_quarantine") as batch:
        batch.add_column(sa.Column("imported", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_quarantine") as batch:
        batch.drop_column("imported")
