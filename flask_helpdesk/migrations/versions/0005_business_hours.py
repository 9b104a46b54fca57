"""Business calendars, the group's calendar, per-customer ledger rows

Revision ID: 0005_business_hours
Revises: 0003_rules
Create Date: 2026-12-02 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_business_hours"
down_revision = "0004_reply_templates"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: SQLite batch mode copies the table; the tables it refers to need no reflection
#: (helpdesk_tickets has expression indexes SQLite cannot reflect).
_REFLECT = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "helpdesk_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("periods", _JSON, nullable=False),
        sa.Column("holidays", _JSON, nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_helpdesk_calendars_name")),
    )
    with op.batch_alter_table("helpdesk_groups", reflect_kwargs=_REFLECT) as batch:
        batch.add_column(sa.Column("calendar_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_helpdesk_groups_calendar_id_helpdesk_calendars"),
                                 "helpdesk_calendars", ["calendar_id"], ["id"],
                                 ondelete="SET NULL")
    with op.batch_alter_table("helpdesk_rule_firings", reflect_kwargs=_REFLECT) as batch:
        batch.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_helpdesk_rule_firings_customer_id_helpdesk_customers"),
            "helpdesk_customers", ["customer_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_helpdesk_rule_firings_customer_period",
                           ["rule_id", "customer_id", "anchor"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_rule_firings", reflect_kwargs=_REFLECT) as batch:
        batch.drop_index("ix_helpdesk_rule_firings_customer_period")
        batch.drop_constraint(op.f("fk_helpdesk_rule_firings_customer_id_helpdesk_customers"),
                              type_="foreignkey")
        batch.drop_column("customer_id")
    with op.batch_alter_table("helpdesk_groups", reflect_kwargs=_REFLECT) as batch:
        batch.drop_constraint(op.f("fk_helpdesk_groups_calendar_id_helpdesk_calendars"),
                              type_="foreignkey")
        batch.drop_column("calendar_id")
    op.drop_table("helpdesk_calendars")
