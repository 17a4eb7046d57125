"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from kb.auth import end_session, start_session
from kb.forms import LoginForm
from kb.security import LOGIN_FAILED, limit_login
from kb.services import accounts

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, never a scheme-relative URL, and no
    control characters (browsers drop tabs and line breaks, so "/\t/evil" is "//evil"; a
    line break would also split the Location header)."""
    if not target or not target.isprintable():
        return url_for("search.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("search.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
@limit_login
def login() -> str | BaseResponse | tuple[str, int]:
    """Sign in with email and password (failures are rate-limited per account and address)."""
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.sign_in(form.email.data or "", form.password.data or "")
        if user is not None:
            start_session(user)
            return redirect(safe_next(request.args.get("next")))
        # One answer for an unknown email, a wrong password and a disabled account.
        flash("Wrong email or password.", "error")
        return render_template("auth/login.html", form=form), LOGIN_FAILED
    return render_template("auth/login.html", form=form), (400 if form.is_submitted() else 200)


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """Sign out (a POST with the CSRF token, so no other site can sign you out)."""
    accounts.record_sign_out(current_user)
    end_session()
    flash("Signed out.", "ok")
    return redirect(url_for("search.home"))
