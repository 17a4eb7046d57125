"""Blueprint-wide checks that ask kb.policy before any view of the blueprint runs."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required

from kb import policy


def admins_only(bp: Blueprint, message: object) -> None:
    """Every view of ``bp`` needs a signed-in admin (others get 403, visitors sign in);
    ``message`` is a lazy_gettext string, translated for each request."""

    @bp.before_request
    @login_required
    def require_admin() -> None:
        if not policy.can_admin(current_user):
            abort(403, str(message))
