"""Who is asking: session users (Flask-Login) and API tokens (``Authorization: Bearer``)."""

from __future__ import annotations

from flask import Request, g, has_request_context, request
from flask_login import LoginManager

from kb.extensions import db
from kb.models import User


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request carries one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def register_loaders(manager: LoginManager) -> None:
    @manager.user_loader
    def load_user(session_id: str) -> User | None:
        if has_request_context() and bearer_token(request) is not None:
            return None  # an explicit API token wins over a browser session
        # "user_id:session_version": a session from before "sign out everywhere" is void.
        user_part, _, version = session_id.partition(":")
        try:
            user = db.session.get(User, int(user_part))
        except ValueError:
            return None
        if user is None or not user.active or version != str(user.session_version):
            return None
        return user

    @manager.request_loader
    def load_from_token(request: Request) -> User | None:
        token = bearer_token(request)
        if token is None:
            return None
        if "token_user" in g:  # kb.security already looked the token up
            return g.token_user
        from kb.services.accounts import user_for_token

        return user_for_token(token)
