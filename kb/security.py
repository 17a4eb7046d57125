"""Answer-wide protections: security headers, safe downloads, secure cookies, sign-in limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import (
    Flask,
    Request,
    Response,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext, lazy_gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits.storage import Storage
from limits.strategies import RateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from kb.auth import bearer_token
from kb.errors import Unauthorized

# No inline scripts or styles anywhere: the templates link kb.css and nothing else.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# A stored file is the uploader's bytes, not ours: no scripts, no same-origin rights.
DOWNLOAD_CSP = "sandbox"
DOWNLOAD_ENDPOINTS = frozenset({"documents.download"})
# Answers no cache may keep whoever asks (besides every answer to a signed-in user or a
# token): exports of the repository's records.
EXPORT_ENDPOINTS = frozenset({"audit.export"})
# Types a browser would run as a page (or as script-capable markup) if served as such.
ACTIVE_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
                          "application/xml"})
LOGIN_FAILED = 401
View = TypeVar("View", bound=Callable[..., Any])



class _Limiter(Limiter):
    """Flask-Limiter's limiter, counting in each app's own RATELIMIT_STORAGE_URI: the stock
    one counts every app of a process in the storage of the last app bound, so two apps
    (two web workers, as tests make them) would share counters even with memory://."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        app.extensions["kb.ratelimit"] = (self._storage, self._limiter)
        self._storage_dead = False  # that was another app's storage, if any

    def _own(self) -> tuple[Any, Any] | None:
        if not has_app_context():
            return None
        return cast(tuple[Any, Any] | None, current_app.extensions.get("kb.ratelimit"))

    @property
    def storage(self) -> Storage:
        own = self._own()
        return cast(Storage, own[0]) if own else super().storage

    @property
    def limiter(self) -> RateLimiter:
        own = self._own()
        if own is None or (self._storage_dead and self._in_memory_fallback_enabled):
            return super().limiter  # the storage is unreachable: counting in memory
        return cast(RateLimiter, own[1])


# Bound to the app in init_app; counters live in RATELIMIT_STORAGE_URI.
limiter = _Limiter(key_func=get_remote_address)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        return has_request_context() and request.is_secure


def init_app(app: Flask) -> None:
    """Install the proxy fix, the session interface, the limiter and the header hooks."""
    proxies = int(app.config.get("TRUST_PROXY") or 0)
    if proxies:
        # Behind that many proxies, request.is_secure and remote_addr follow their headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.session_interface = SessionInterface()
    # Flask's own default is None, so a setdefault would never take: Lax unless configured.
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    limiter.init_app(app)
    app.before_request(refuse_invalid_token)
    app.before_request(load_session_user)
    app.after_request(add_security_headers)


def _login_email() -> str:
    return request.form.get("email", "").strip().casefold()[:254]


def login_account_key() -> str:
    """The rate-limit key of a sign-in attempt's account: the submitted email, case-folded."""
    return "account:" + _login_email()


def login_address_key() -> str:
    return "address:" + get_remote_address()


def login_pair_key() -> str:
    """An address's attempts at one account: what slows a guesser without locking the
    account's owner out from elsewhere."""
    return "pair:" + get_remote_address() + " " + _login_email()


def login_failed(response: Response) -> bool:
    """Only failed sign-ins count against the limits."""
    return response.status_code == LOGIN_FAILED


def login_limit_account() -> str:
    return str(current_app.config["LOGIN_LIMIT_ACCOUNT"])


def login_limit_address() -> str:
    return str(current_app.config["LOGIN_LIMIT_ADDRESS"])


def login_limit_pair() -> str:
    return str(current_app.config["LOGIN_LIMIT_PAIR"])


# Translated for each answer (Flask-Limiter calls the message's __str__).
LOGIN_LIMIT_MESSAGE = lazy_gettext("Too many failed sign-in attempts. Wait a minute, then try "
                                   "again (or ask an administrator to check your account).")


def limit_login(view: View) -> View:
    """Limit failed sign-ins per address and account, per address, and per account from
    all addresses together (the view answers 401 on failure)."""
    limited: Callable[..., Any] = view
    for limit, key in ((login_limit_account, login_account_key),
                       (login_limit_address, login_address_key),
                       (login_limit_pair, login_pair_key)):
        limited = limiter.limit(limit, key_func=key, methods=["POST"], deduct_when=login_failed,
                                error_message=LOGIN_LIMIT_MESSAGE.__str__)(limited)
    return cast(View, limited)


PASSWORD_LIMIT_MESSAGE = lazy_gettext("Too many wrong current passwords. Wait a few minutes, "
                                      "then try again (or sign out and ask an administrator).")


def password_change_key() -> str:
    return "password-change:" + str(getattr(current_user, "user_id", ""))


def password_change_limit() -> str:
    return str(current_app.config["PASSWORD_CHANGE_LIMIT"])


def wrong_current_password(_response: Response) -> bool:
    """Only a wrong current password counts (the view says so in ``g``), not a weak new one."""
    return bool(g.get("wrong_current_password"))


def limit_password_change(view: View) -> View:
    """Limit wrong current passwords on the password change form, per account."""
    return cast(View, limiter.limit(password_change_limit, key_func=password_change_key,
                                    methods=["POST"], deduct_when=wrong_current_password,
                                    error_message=PASSWORD_LIMIT_MESSAGE.__str__)(view))


FORGOT_LIMIT_MESSAGE = lazy_gettext("Too many requests for a new password. Wait an hour, then "
                                    "try again (or ask an administrator).")


def forgot_account_key() -> str:
    return "forgot-account:" + _login_email()


def forgot_address_key() -> str:
    return "forgot-address:" + get_remote_address()


def forgot_limit_account() -> str:
    return str(current_app.config["FORGOT_LIMIT_ACCOUNT"])


def forgot_limit_address() -> str:
    return str(current_app.config["FORGOT_LIMIT_ADDRESS"])


def limit_forgot_password(view: View) -> View:
    """Limit "forgot password" requests per email address and per client address; every
    request counts, whether or not the account exists (the answer does not tell)."""
    limited: Callable[..., Any] = view
    for limit, key in ((forgot_limit_account, forgot_account_key),
                       (forgot_limit_address, forgot_address_key)):
        limited = limiter.limit(limit, key_func=key, methods=["POST"],
                                error_message=FORGOT_LIMIT_MESSAGE.__str__)(limited)
    return cast(View, limited)


EXPORT_LIMIT_MESSAGE = lazy_gettext("Too many exports in a short time. Wait a minute, then "
                                    "try again, or narrow the search and export once.")


def export_key() -> str:
    """A signed-in account's exports count together wherever they come from; a visitor's
    by client address."""
    if getattr(current_user, "is_authenticated", False):
        return "export-account:" + str(getattr(current_user, "user_id", ""))
    return "export-address:" + get_remote_address()


def export_limit() -> str:
    return str(current_app.config["EXPORT_RATE_LIMIT"])


def limit_exports(view: View) -> View:
    """Limit a search's exports (EXPORT_RATE_LIMIT), per account or client address."""
    return cast(View, limiter.limit(export_limit, key_func=export_key,
                                    error_message=EXPORT_LIMIT_MESSAGE.__str__)(view))


def load_session_user() -> None:
    """Check a signed-in session before the view runs, so that noting its last use never
    commits in the middle of a view's own changes."""
    if "_user_id" in session and request.endpoint != "static":
        _ = current_user.is_authenticated


def refuse_invalid_token() -> None:
    """A request that presents a bearer token must present a valid one, on every route."""
    token = bearer_token(request)
    if token is None:
        return
    from kb.metrics import is_metrics_token

    if request.endpoint == "metrics.metrics" and is_metrics_token(token):
        return  # the scrapers' METRICS_TOKEN, which is no account's (kb.views.metrics)
    from kb.services.accounts import user_for_token

    user = user_for_token(token)
    if user is None:
        raise Unauthorized(gettext("The API token is not valid or was revoked."))
    g.token_user = user  # Flask-Login's request loader takes it from here


def add_security_headers(response: Response) -> Response:
    """Headers for every answer; stored files additionally get a sandbox and a safe type."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    if is_download(request, response):
        _harden_download(response)
    else:
        headers["Content-Security-Policy"] = PAGE_CSP
    if response.status_code == 429:
        _add_retry_after(response)
    if depends_on_who_asks(request) or request.endpoint in EXPORT_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
    hsts = int(current_app.config.get("HSTS_SECONDS") or 0)
    if hsts > 0 and request.is_secure:
        headers["Strict-Transport-Security"] = f"max-age={hsts}"
    return response


def depends_on_who_asks(req: Request) -> bool:
    """Whether the answer was made for a signed-in user or an API token's owner.

    Flask-Login keeps the user it loaded in ``g``: an answer that never looked at the user
    (a static file, a page made before anyone signed in) may be cached.
    """
    if bearer_token(req) is not None:
        return True
    user = g.get("_login_user")
    return bool(user is not None and getattr(user, "is_authenticated", False))


def is_download(req: Request, response: Response) -> bool:
    """A stored file (or any other attachment) rather than one of our pages or assets."""
    if req.endpoint in DOWNLOAD_ENDPOINTS:
        return response.status_code < 400
    disposition = response.headers.get("Content-Disposition", "")
    return disposition.lower().startswith("attachment")


def _harden_download(response: Response) -> None:
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    if response.mimetype in ACTIVE_TYPES:
        response.headers["Content-Type"] = "application/octet-stream"
    # PDFs open in the browser's viewer; everything else is saved, never rendered.
    disposition = "inline" if response.mimetype == "application/pdf" else "attachment"
    current = response.headers.get("Content-Disposition")
    if current is None:
        if response.status_code < 300:
            response.headers["Content-Disposition"] = disposition
        return
    _kind, sep, params = current.partition(";")
    response.headers["Content-Disposition"] = disposition + sep + params


def _add_retry_after(response: Response) -> None:
    limit = limiter.current_limit
    if limit is not None and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(max(1, limit.reset_at - int(time.time())))
