"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from kb.auth import end_session, start_session
from kb.errors import ValidationError
from kb.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm
from kb.security import LOGIN_FAILED, limit_forgot_password, limit_login
from kb.services import accounts, resets

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
        flash(_("Wrong email or password."), "error")
        return _login_page(form), LOGIN_FAILED
    return _login_page(form), (400 if form.is_submitted() else 200)


def _login_page(form: LoginForm) -> str:
    return render_template("auth/login.html", form=form, can_reset=resets.available())


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """Sign out (a POST with the CSRF token, so no other site can sign you out)."""
    accounts.record_sign_out(current_user)
    end_session()
    flash(_("Signed out."), "ok")
    return redirect(url_for("search.home"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limit_forgot_password
def forgot_password() -> str | BaseResponse | tuple[str, int]:
    """Ask for a link to choose a new password; the answer is the same whether or not an
    account uses the address (rate-limited per address typed and per client address)."""
    form = ForgotPasswordForm()
    if not resets.available():
        return render_template("auth/forgot.html", form=None), 200
    if form.validate_on_submit():
        resets.request_reset(form.email.data or "")
        flash(_("If an account uses that address, an email with a link to choose a new "
                "password is on its way. The link works once, within %(hours)s.",
                hours=resets.hours_text()), "ok")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), (400 if form.is_submitted() else 200)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password() -> str | BaseResponse | tuple[str, int]:
    """Choose a new password through the link of a "forgot password" email (the token
    travels in the query string and the form, never in a logged path)."""
    form = ResetPasswordForm()
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
    token = form.token.data or ""
    try:
        user = resets.user_for_token(token)
    except ValidationError as e:
        return render_template("auth/reset.html", form=None, problem=e.message), 400
    if form.validate_on_submit():
        try:
            resets.reset_password(token, form.new_password.data or "")
        except ValidationError as e:
            form.new_password.errors = [*form.new_password.errors, e.message]
            return render_template("auth/reset.html", form=form, email=user.email), 400
        flash(_("Your password is changed. Sign in with it."), "ok")
        return redirect(url_for("auth.login"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/reset.html", form=form, email=user.email), status
