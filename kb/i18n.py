"""The interface language: which one a request gets, and where the catalogues live.

The choice, in order: the language picked with the switch (a cookie), a signed-in user's
profile, the browser's Accept-Language, English. Catalogues are ``kb/translations/<lang>/
LC_MESSAGES/messages.po``; ``babel.cfg`` says where messages are extracted from.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, has_request_context, request
from flask_login import current_user

TRANSLATIONS = Path(__file__).parent / "translations"
# The interface languages, English first (the language of the code's messages).
LANGUAGES = ("en", "fr", "es", "ru")
COOKIE = "kb_lang"


def languages() -> tuple[str, ...]:
    """The interface languages this instance offers."""
    return tuple(current_app.config.get("LANGUAGES", LANGUAGES))


def select_locale() -> str:
    """The interface language of this request."""
    offered = languages()
    if not has_request_context():  # the CLI, the worker: messages stay English
        return offered[0]
    chosen = request.cookies.get(COOKIE)
    if chosen in offered:
        return chosen
    if getattr(current_user, "is_authenticated", False):
        stored = getattr(current_user, "locale", None)
        if stored in offered:
            return str(stored)
    return request.accept_languages.best_match(offered, default=offered[0]) or offered[0]
