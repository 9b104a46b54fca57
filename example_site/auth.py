"""The host's own pages: home, login and logout."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from .models import User
from .models import db

bp = Blueprint("site", __name__)


@bp.app_context_processor
def _csrf() -> dict[str, t.Any]:
    return {"csrf_token": generate_csrf}


@bp.get("/")
def home() -> str:
    users = db.session.scalars(select(User).order_by(User.id)).all()
    return render_template("example/home.html", users=users,
                           demo_password=current_app.config["DEMO_PASSWORD"])


@bp.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    error = None
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            return render_template("example/login.html", error="The form expired; try again.",
                                   username=request.form.get("username", "")), 400
        user = db.session.scalar(select(User).where(
            User.username == request.form.get("username", "").strip()))
        if user is not None and user.check_password(request.form.get("password", "")):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Unknown user or wrong password."
    return render_template("example/login.html", error=error,
                           username=request.form.get("username", "")), 401 if error else 200


@bp.post("/logout")
@login_required
def logout() -> t.Any:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return redirect(url_for("site.home"))
    logout_user()
    return redirect(url_for("site.home"))


def _safe_next(target: str | None) -> str:
    """Only follow a ``next`` that stays on this site."""
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and not urlsplit(target).netloc):
        return target
    return url_for("helpdesk.agent.tickets") if current_user.is_authenticated else "/"
