"""The signed-in user's own account: password, sessions and API tokens."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from kb.auth import end_session, start_session
from kb.errors import KbError
from kb.forms import ConfirmForm, PasswordChangeForm, TokenForm
from kb.security import limit_password_change
from kb.services import accounts

bp = Blueprint("profile", __name__, url_prefix="/profile")


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every page here is about the signed-in user's own account."""


@bp.after_request
def no_store(response: Response) -> Response:
    # A new token is shown once in the page: no cache may keep a copy of it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(status: int = 200, *, password_form: PasswordChangeForm | None = None,
          token_form: TokenForm | None = None, new_token: str | None = None,
          new_token_name: str | None = None) -> Response:
    # formdata=None: a form that was not the one submitted starts empty.
    html = render_template(
        "profile/index.html", password_form=password_form or PasswordChangeForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        tokens=accounts.tokens_of(current_user), new_token=new_token,
        new_token_name=new_token_name)
    return make_response(html, status)


@bp.get("")
def index() -> Response:
    """The profile: change the password, sign out everywhere, manage API tokens."""
    return _page()


@bp.post("/password")
@limit_password_change
def change_password() -> BaseResponse:
    """Change the password; every session and API token of the account ends, and this
    browser goes on in a new session."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _page(400, password_form=form)
    try:
        accounts.change_password(current_user, form.current_password.data or "",
                                 form.new_password.data or "")
    except KbError as e:
        # Counted by the rate limit: someone holding a session must not guess the password.
        g.wrong_current_password = "current_password" in e.fields
        for name, _reason in e.fields.items():
            if name in form:
                form[name].errors = [*form[name].errors, e.message]
        return _page(e.status_code, password_form=form)
    start_session(current_user._get_current_object())
    flash(_("Password changed. Your other sessions have been signed out and your API "
            "tokens revoked."), "ok")
    return redirect(url_for("profile.index"))


@bp.post("/sign-out-everywhere")
def sign_out_everywhere() -> BaseResponse:
    """End every session of this account, on every device, this one included."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _page(400)
    accounts.sign_out_everywhere(current_user)
    end_session()
    flash(_("Signed out everywhere. Sign in again to continue."), "ok")
    return redirect(url_for("auth.login"))


@bp.post("/tokens")
def create_token() -> BaseResponse:
    """Create an API token and show it, this once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(400, token_form=form)
    row, token = accounts.issue_token(current_user, form.name.data, actor=current_user)
    # Rendered here rather than flashed: the session cookie is signed, not encrypted.
    return _page(new_token=token, new_token_name=row.name)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> BaseResponse:
    """Revoke one of the user's own tokens; it is refused from the next request on."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _page(400)
    row = accounts.revoke_token(current_user, token_id, actor=current_user)
    flash(_("Token %(name)s revoked.", name=row.name or row.token_id), "ok")
    return redirect(url_for("profile.index"))
