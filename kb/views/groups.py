"""Admin pages for groups and their members."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from kb.errors import KbError
from kb.forms import GroupForm, MemberForm
from kb.services import groups as service
from kb.views.guards import admins_only

bp = Blueprint("groups", __name__, url_prefix="/admin/groups")

admins_only(bp, lazy_gettext("Only administrators may manage groups."))


@bp.route("", methods=["GET", "POST"])
def index() -> str | BaseResponse | tuple[str, int]:
    """List groups with their members; create a group."""
    form = GroupForm()
    if form.validate_on_submit():
        try:
            service.create_group(form.name.data or "", current_user)
        except KbError as e:
            flash(e.message, "error")
            return render_template("groups/index.html", form=form, groups=service.groups(),
                                   member_form=MemberForm()), 400
        flash(_("Group %(name)s created.", name=form.name.data), "ok")
        return redirect(url_for("groups.index"))
    return render_template("groups/index.html", form=form, groups=service.groups(),
                           member_form=MemberForm()), (400 if form.is_submitted() else 200)


@bp.post("/<int:group_id>/members")
def add_member(group_id: int) -> BaseResponse:
    """Add an account to a group by its email."""
    form = MemberForm()
    if form.validate_on_submit():
        try:
            service.add_member(group_id, form.email.data or "", current_user)
        except KbError as e:
            flash(e.message, "error")
    else:
        flash(_("Give the email of an account."), "error")
    return redirect(url_for("groups.index"))


@bp.post("/<int:group_id>/members/<int:user_id>/remove")
def remove_member(group_id: int, user_id: int) -> BaseResponse:
    """Take an account out of a group (CSRFProtect has checked the form's token)."""
    service.remove_member(group_id, user_id, current_user)
    return redirect(url_for("groups.index"))
