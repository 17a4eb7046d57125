"""The admin area: users, the agency list and the trash."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from kb.errors import KbError
from kb.extensions import db
from kb.forms import ROLE_LABELS, AgencyForm, ConfirmForm, RoleForm, UserForm
from kb.models import User
from kb.services import accounts, trash
from kb.views.guards import admins_only

bp = Blueprint("admin", __name__, url_prefix="/admin")

admins_only(bp, lazy_gettext("Only administrators may open this page."))


@bp.route("/users", methods=["GET", "POST"])
def users() -> str | BaseResponse | tuple[str, int]:
    """List accounts and add one."""
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.create_user(form.email.data or "", form.password.data or "",
                                 form.role.data or "reader", actor=current_user)
        except KbError as e:
            for name in e.fields:
                if name in form:
                    form[name].errors = [*form[name].errors, e.message]
            flash(e.message, "error")
            status = 400
        else:
            flash(_("Account %(email)s created.", email=form.email.data), "ok")
            return redirect(url_for("admin.users"))
    elif form.is_submitted():
        status = 400
    rows = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template("admin/users.html", form=form, users=rows,
                           role_form=RoleForm(), role_labels=ROLE_LABELS), status


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> BaseResponse:
    """Change an account's role."""
    form = RoleForm()
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if form.validate_on_submit():
        accounts.set_role(user, form.role.data or "reader", actor=current_user)
        flash(_("%(email)s is now %(role)s.", email=user.email, role=user.role), "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int) -> BaseResponse:
    """Disable an account: it cannot sign in; its sessions end and its tokens are revoked."""
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int) -> BaseResponse:
    """Let a disabled account sign in again (its old sessions and tokens stay ended)."""
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> BaseResponse:
    form = ConfirmForm()
    user = accounts.get_user(user_id)
    if form.validate_on_submit():
        accounts.set_active(user, active, actor=current_user)
        flash(_("%(email)s is now enabled.", email=user.email) if active
              else _("%(email)s is now disabled.", email=user.email), "ok")
    return redirect(url_for("admin.users"))


@bp.route("/agencies", methods=["GET", "POST"])
def agencies() -> str | BaseResponse | tuple[str, int]:
    """The agency list: add an agency or rename one."""
    form = AgencyForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.save_agency(form.code.data or "", form.label.data or "")
        except KbError as e:
            flash(e.message, "error")
            status = 400
        else:
            flash(_("Agency %(code)s saved.", code=form.code.data), "ok")
            return redirect(url_for("admin.agencies"))
    elif form.is_submitted():
        status = 400
    return render_template("admin/agencies.html", form=form,
                           agencies=accounts.agencies()), status


@bp.get("/trash")
def trash_list() -> str:
    """The documents in the trash, with when each was deleted and will be purged."""
    return render_template("admin/trash.html", trashed=trash.listing(current_user),
                           days=current_app.config["TRASH_DAYS"])


@bp.post("/trash/<int:doc_id>/restore")
def trash_restore(doc_id: int) -> BaseResponse:
    """Take a document out of the trash, as it was (withdrawn)."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    doc = trash.restore(doc_id, current_user)
    flash(_("“%(title)s” is out of the trash, withdrawn as it was; an editor can restore it "
            "to publish it again.", title=doc.title), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/trash/<int:doc_id>/purge")
def trash_purge(doc_id: int) -> BaseResponse:
    """Purge a document in the trash now, for good."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    trash.purge(doc_id, current_user)
    flash(_("Document %(id)s purged.", id=doc_id), "ok")
    return redirect(url_for("admin.trash_list"))
