"""Who is asking: session users (Flask-Login) and API tokens (``Authorization: Bearer``)."""

from __future__ import annotations

from flask import Request, g, has_request_context, request, session
from flask_login import LoginManager, login_user, logout_user

from kb.models import User
from kb.services import sessions

# The session cookie's key for the secret of the server-side session (kb.services.sessions).
SESSION_KEY = "kb_session"


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request carries one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def start_session(user: User) -> None:
    """Sign the user in with a new server-side session.

    The cookie starts afresh: nothing from before sign-in (its CSRF token included) is kept.
    """
    session.clear()
    secret = sessions.start(user)
    login_user(user)
    session[SESSION_KEY] = secret


def end_session() -> None:
    """Sign out: the server-side session ends, the cookie (and its CSRF token) is emptied."""
    sessions.end(session.get(SESSION_KEY))
    logout_user()
    session.clear()


def register_loaders(manager: LoginManager) -> None:
    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        if has_request_context() and bearer_token(request) is not None:
            return None  # an explicit API token wins over a browser session
        # Without a live server-side session nothing signs in: not a copied cookie after
        # sign-out, not an expired one, not a "remember me" cookie (kb issues none).
        secret = session.get(SESSION_KEY)
        user = sessions.resume(user_id, secret) if isinstance(secret, str) else None
        if user is None:
            # Forget the dead session, so that later requests do not look it up again.
            session.pop(SESSION_KEY, None)
            session.pop("_user_id", None)
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
