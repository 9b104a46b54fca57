"""The agent's notifications: what rules told them, and marking it read.

The header shows the unread count on every page (one ``COUNT`` on an index,
see :func:`unread`); live pages update it from the ``notification`` Socket.IO
event (``static/helpdesk/live.js``).
"""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...extension import current_agent_or_none
from ...services import notifications
from ._common import bp
from ._common import current_agent

if t.TYPE_CHECKING:
    from werkzeug import Response

#: Notifications shown on the page.
PAGE_LIMIT = 100


@bp.context_processor
def _unread() -> dict[str, t.Any]:
    return {"hd_unread_notifications": unread}


def unread() -> int:
    """The current agent's unread count, for the header (0 without an agent)."""
    agent = current_agent_or_none()
    return 0 if agent is None else notifications.unread_count(actor=agent)


@bp.get("/notifications")
def notification_list() -> str:
    items = notifications.list_notifications(actor=current_agent(), limit=PAGE_LIMIT)
    return render_template("helpdesk/notifications.html", items=items,
                           unread=sum(1 for n in items if n.read_at is None))


@bp.post("/notifications/<helpdesk_id:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    """Mark one read; ``open=1`` goes on to its ticket."""
    item = notifications.mark_read(notification_id, actor=current_agent())
    if request.form.get("open"):
        return redirect(url_for(".ticket", ticket_id=item.ticket_id))
    return redirect(url_for(".notification_list") + f"#notification-{item.id}")


@bp.post("/notifications/read")
def read_all_notifications() -> Response:
    notifications.mark_all_read(actor=current_agent())
    return redirect(url_for(".notification_list"))
