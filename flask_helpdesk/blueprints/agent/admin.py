"""Admin pages: groups, agents with their roles and API tokens, and tags.

Everything under ``/admin/`` is for admins; managers may look at the group,
agent and calendar lists (read-only), agents get 403. Business calendars are
in :mod:`.admin_calendars`, channel accounts and the quarantine in
:mod:`.admin_channels`.
"""

from __future__ import annotations

import typing as t

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...errors import Conflict
from ...errors import HelpdeskError
from ...errors import NotFound
from ...errors import ValidationError
from ...extension import get_state
from ...i18n import _
from ...models.agent import ROLES
from ...services import agents
from ...services import calendars
from ...services import tags
from ...services import whole_number
from ...services.permissions import require_role
from ._common import bp
from ._common import current_agent
from ._common import optional_int

if t.TYPE_CHECKING:
    from ...models import Agent

#: Tags shown per page of the tag list.
TAG_PAGE = 100

#: Errors a form shows next to its fields; anything else is an error page.
FORM_ERRORS = (ValidationError, Conflict, NotFound)


def admin() -> Agent:
    """The current agent, who must be an admin (403 otherwise)."""
    actor = current_agent()
    require_role(actor, "admin")
    return actor


def render_admin(template: str, *, status: int = 200, **context: t.Any) -> t.Any:
    """Render an admin page; ``form``/``error``/``values`` tell which form failed."""
    context.setdefault("form", None)
    context.setdefault("error", None)
    context["values"] = request.form if context["form"] else {}
    body = render_template(f"helpdesk/admin/{template}", **context)
    return (body, status) if status != 200 else body


def submit(action: t.Callable[[], t.Any], done: str, to: str,
           again: t.Callable[[HelpdeskError], t.Any]) -> t.Any:
    """Run a form's service call; on a form error show the page again with the form."""
    try:
        action()
    except FORM_ERRORS as exc:
        return again(exc)
    flash(done, "success")
    return redirect(to)


@bp.get("/admin/")
def admin_index() -> t.Any:
    admin()
    return redirect(url_for(".admin_groups"))


# ------------------------------------------------------------------- groups


@bp.get("/admin/groups")
def admin_groups(*, error: HelpdeskError | None = None) -> t.Any:
    """Groups with their members and open tickets; the form to add one."""
    actor = current_agent()
    require_role(actor, "manager")
    return render_admin("groups.html", groups=agents.list_group_stats(),
                        can_edit=actor.has_role("admin"), form="create" if error else None,
                        error=error, status=error.http_status if error else 200,
                        **_calendar_choices(actor))


@bp.post("/admin/groups")
def admin_create_group() -> t.Any:
    return submit(lambda: agents.create_group(
        actor=admin(), name=request.form.get("name", ""),
        description=request.form.get("description", ""), **_calendar_field(),
        **_resolved_reply_field(),
    ), _("Group created."), url_for(".admin_groups"), lambda e: admin_groups(error=e))


@bp.get("/admin/groups/<helpdesk_id:group_id>")
def admin_group(group_id: int, *, form: str | None = None,
                error: HelpdeskError | None = None) -> t.Any:
    """One group: rename it, describe it, choose its hours and what a reply to a
    resolved ticket does, or delete it (moving its tickets)."""
    actor = admin()
    stats = {s.group.id: s for s in agents.list_group_stats()}
    if group_id not in stats:
        agents.get_group(group_id)  # NotFound
    return render_admin("group.html", stats=stats[group_id],
                        others=[s.group for s in stats.values() if s.group.id != group_id],
                        form=form, error=error, status=error.http_status if error else 200,
                        **_calendar_choices(actor))


@bp.post("/admin/groups/<helpdesk_id:group_id>")
def admin_update_group(group_id: int) -> t.Any:
    return submit(lambda: agents.update_group(
        group_id, actor=admin(), name=request.form.get("name", ""),
        description=request.form.get("description", ""), **_calendar_field(),
        **_resolved_reply_field(),
    ), _("Group saved."), url_for(".admin_group", group_id=group_id),
        lambda e: admin_group(group_id, form="edit", error=e))


@bp.post("/admin/groups/<helpdesk_id:group_id>/delete")
def admin_delete_group(group_id: int) -> t.Any:
    return submit(lambda: agents.delete_group(
        group_id, actor=admin(), move_to=optional_int("move_to"),
    ), _("Group deleted."), url_for(".admin_groups"),
        lambda e: admin_group(group_id, form="delete", error=e))


def _calendar_field() -> dict[str, t.Any]:
    """The group form's business hours, if it has the field (empty: the default calendar)."""
    if "calendar_id" not in request.form:
        return {}
    return {"calendar_id": optional_int("calendar_id")}


def _resolved_reply_field() -> dict[str, t.Any]:
    """The group form's answer to a resolved ticket's reply, if it has the field."""
    if "resolved_reply" not in request.form:
        return {}
    return {"resolved_reply": request.form["resolved_reply"]}


def _calendar_choices(actor: Agent) -> dict[str, t.Any]:
    rows = calendars.list_calendars(actor=actor)
    return {"calendars": rows, "calendar_names": {c.id: c.name for c in rows},
            "default_calendar": next((c for c in rows if c.is_default), None)}


# ------------------------------------------------------------------- agents


@bp.get("/admin/agents")
def admin_agents(*, error: HelpdeskError | None = None) -> t.Any:
    """Every agent with role, groups, language and state; the form to add one."""
    actor = current_agent()
    require_role(actor, "manager")
    return render_admin("agents.html", agents=agents.list_agents(include_inactive=True),
                        can_edit=actor.has_role("admin"), **_agent_choices(),
                        form="create" if error else None, error=error,
                        status=error.http_status if error else 200)


@bp.post("/admin/agents")
def admin_create_agent() -> t.Any:
    return submit(lambda: agents.create_agent(
        actor=admin(), user_id=request.form.get("user_id", ""), **_agent_fields(),
    ), _("Agent created."), url_for(".admin_agents"), lambda e: admin_agents(error=e))


@bp.get("/admin/agents/<helpdesk_id:agent_id>")
def admin_agent(agent_id: int, *, form: str | None = None, error: HelpdeskError | None = None,
                secret: str | None = None) -> t.Any:
    """One agent: profile, role, groups, language, state and API tokens."""
    actor = admin()
    person = agents.get_agent(agent_id)
    return render_admin("agent.html", person=person, **_agent_choices(),
                        tokens=agents.list_tokens(actor=actor, agent_id=agent_id),
                        secret=secret, form=form, error=error,
                        status=error.http_status if error else 200)


@bp.post("/admin/agents/<helpdesk_id:agent_id>")
def admin_update_agent(agent_id: int) -> t.Any:
    return submit(lambda: agents.update_agent(
        agent_id, actor=admin(), active=bool(request.form.get("active")), **_agent_fields(),
    ), _("Agent saved."), url_for(".admin_agent", agent_id=agent_id),
        lambda e: admin_agent(agent_id, form="edit", error=e))


@bp.post("/admin/agents/<helpdesk_id:agent_id>/deactivate")
def admin_deactivate_agent(agent_id: int) -> t.Any:
    return submit(lambda: agents.update_agent(agent_id, actor=admin(), active=False),
                  _("Agent deactivated."), url_for(".admin_agent", agent_id=agent_id),
                  lambda e: admin_agent(agent_id, form="deactivate", error=e))


@bp.post("/admin/agents/<helpdesk_id:agent_id>/tokens")
def admin_create_token(agent_id: int) -> t.Any:
    """Create an API token and show its secret, this once, on the agent's page."""
    try:
        _token, secret = agents.create_token(actor=admin(), agent_id=agent_id,
                                             name=request.form.get("name", ""))
    except FORM_ERRORS as exc:
        return admin_agent(agent_id, form="token", error=exc)
    return admin_agent(agent_id, secret=secret)


@bp.post("/admin/tokens/<helpdesk_id:token_id>/revoke")
def admin_revoke_token(token_id: int) -> t.Any:
    token = agents.revoke_token(token_id, actor=admin())
    flash(_("Token %(name)s revoked.", name=token.name), "success")
    return redirect(url_for(".admin_agent", agent_id=token.agent_id, _anchor="tokens"))


def _agent_fields() -> dict[str, t.Any]:
    form = request.form
    return {"name": form.get("name", ""), "email": form.get("email", "").strip() or None,
            "role": form.get("role", ""), "language": form.get("language") or None,
            "groups": [n for g in form.getlist("groups") if (n := whole_number(g))]}


def _agent_choices() -> dict[str, t.Any]:
    return {"groups": agents.list_groups(), "roles": ROLES,
            "languages": get_state().config.languages}


# ------------------------------------------------------------------- tags


@bp.get("/admin/tags")
def admin_tags(*, form: str | None = None, error: HelpdeskError | None = None) -> t.Any:
    """Tags with their ticket counts, a page at a time, with rename/merge/delete forms."""
    admin()
    prefix, after = request.args.get("q", "").strip(), request.args.get("after") or None
    rows = tags.tag_usage(prefix=prefix or None, after=after, limit=TAG_PAGE + 1)
    more = len(rows) > TAG_PAGE
    rows = rows[:TAG_PAGE]
    next_url = url_for(".admin_tags", q=prefix or None, after=rows[-1].name) if more else None
    return render_admin("tags.html", tags=rows, q=prefix, next_url=next_url, form=form,
                        error=error, status=error.http_status if error else 200)


@bp.post("/admin/tags/<helpdesk_id:tag_id>/rename")
def admin_rename_tag(tag_id: int) -> t.Any:
    return submit(lambda: tags.rename_tag(tag_id, actor=admin(),
                                          name=request.form.get("name", "")),
                  _("Tag renamed."), _back_to_tags(),
                  lambda e: admin_tags(form=f"rename-{tag_id}", error=e))


@bp.post("/admin/tags/<helpdesk_id:tag_id>/merge")
def admin_merge_tag(tag_id: int) -> t.Any:
    def merge() -> None:
        into = tags.find_tag(request.form.get("into", ""), field="into")
        tags.merge_tags(tag_id, into_id=into.id, actor=admin())

    return submit(merge, _("Tags merged."), _back_to_tags(),
                  lambda e: admin_tags(form=f"merge-{tag_id}", error=e))


@bp.post("/admin/tags/<helpdesk_id:tag_id>/delete")
def admin_delete_tag(tag_id: int) -> t.Any:
    return submit(lambda: tags.delete_tag(tag_id, actor=admin()), _("Tag deleted."),
                  _back_to_tags(), lambda e: admin_tags(form=f"delete-{tag_id}", error=e))


def _back_to_tags() -> str:
    return url_for(".admin_tags", q=request.args.get("q") or None,
                   after=request.args.get("after") or None)
