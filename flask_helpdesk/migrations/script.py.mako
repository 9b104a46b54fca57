"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
% if not down_revision:
from flask_helpdesk.schema import create_search_index
from flask_helpdesk.schema import drop_search_index
% endif

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
% if not down_revision:
    create_search_index(op.get_bind())
% endif


def downgrade() -> None:
% if not down_revision:
    drop_search_index(op.get_bind())
% endif
    ${downgrades if downgrades else "pass"}
