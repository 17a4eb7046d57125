"""The interface language: which one a request gets, and where the catalogues live.

The choice, in order: the language picked with the switch (a cookie), a signed-in user's
profile, the browser's Accept-Language, English. Catalogues are ``kb/translations/<lang>/
LC_MESSAGES/messages.po``; ``babel.cfg`` says where messages are extracted from.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    ngettext,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

TRANSLATIONS = Path(__file__).parent / "translations"
# The interface languages, English first (the language of the code's messages).
LANGUAGES = ("en", "fr", "es", "ru")
COOKIE = "kb_lang"


def N_(message: str) -> str:
    """Marks a message for extraction where it is translated later (at use)."""
    return message


def languages() -> tuple[str, ...]:
    """The interface languages this instance offers (``LANGUAGES``: codes separated by
    spaces or commas, or a list)."""
    configured = current_app.config.get("LANGUAGES") or LANGUAGES
    if isinstance(configured, str):
        configured = configured.replace(",", " ").split()
    return tuple(configured) or LANGUAGES


def explicit_choice() -> str | None:
    """The language a person chose (the switch's cookie, else their profile), if any."""
    if not has_request_context():
        return None
    offered = languages()
    chosen = request.cookies.get(COOKIE)
    if chosen in offered:
        return chosen
    if getattr(current_user, "is_authenticated", False):
        stored = getattr(current_user, "locale", None)
        if stored in offered:
            return str(stored)
    return None


def current_language() -> str:
    """The interface language of this request as a language code ("fr"); English outside
    one (the CLI, the worker)."""
    try:
        found = get_locale()
    except RuntimeError:  # no application or request context
        found = None
    return found.language if found is not None else "en"


def select_locale() -> str:
    """The interface language of this request (English outside one: the CLI, the
    worker, which write logs and files, not pages)."""
    offered = languages()
    if not has_request_context():
        return offered[0]
    return (explicit_choice()
            or request.accept_languages.best_match(offered, default=offered[0])
            or offered[0])


# --- Catalogues: the .po files are the source, the .mo files are built from them ----------

def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``messages.po`` into its ``messages.mo`` unless the .mo was built
    from exactly these bytes (``messages.mo.sha256`` beside it); returns the files
    written. Run by ``create_app`` (three small reads when nothing changed), so a fresh
    clone, ``make run`` and ``make test`` never need a separate step; git ignores the
    compiled files. The .mo is replaced atomically, and a .po read while an editor was
    still writing it is compiled again at the next start (its bytes differ). A read-only
    installation keeps the .mo files it was built with."""
    import hashlib
    import io
    import os

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        stamp = po.with_suffix(".mo.sha256")
        source = po.read_bytes()
        digest = hashlib.sha256(source).hexdigest()
        try:
            if mo.exists() and stamp.read_text(encoding="ascii").strip() == digest:
                continue
        except OSError:
            pass
        catalogue = read_po(io.BytesIO(source), locale=po.parent.parent.name)
        partial = mo.with_suffix(f".mo.{os.getpid()}")
        try:
            with partial.open("wb") as target:
                write_mo(target, catalogue)
            os.replace(partial, mo)
            stamp.write_text(digest + "\n", encoding="ascii")
        except OSError:
            partial.unlink(missing_ok=True)
            continue
        written.append(mo)
    return written


# --- The switch: POST /language ----------------------------------------------------------

bp = Blueprint("i18n", __name__)

# A year: the choice outlives the session, as a browser's own language setting does.
COOKIE_AGE = 365 * 24 * 3600


def _safe_next(raw: str | None) -> str:
    """A same-site path to go back to (never another host, never a scheme-relative URL)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return url_for("search.home")
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return url_for("search.home")
    return raw


@bp.post("/language")
def choose() -> Response:
    """Remember the language chosen with the switch: a cookie for everyone, the profile
    for a signed-in user; then back to the page the switch was on. An empty or unknown
    choice clears both (the browser's language again)."""
    chosen = (request.form.get("language") or "").strip()
    response = redirect(_safe_next(request.form.get("next")), 303)
    if chosen in languages():
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_AGE, samesite="Lax",
                            secure=request.is_secure, httponly=True)
    else:
        chosen = ""
        response.delete_cookie(COOKIE)
    if getattr(current_user, "is_authenticated", False):
        from kb.extensions import db

        current_user.locale = chosen or None
        db.session.commit()
    return response


# --- Formatting after the interface language ----------------------------------------------

def filesize(size: int | None) -> str:
    """Bytes as a person reads them, with the locale's digits: '812 bytes', '150.2 KB',
    '150,2 Ko' in French (one decimal)."""
    if size is None:
        return ""
    if size < 1024:
        return ngettext("%(num)s byte", "%(num)s bytes", size)
    value = size / 1024.0
    units = (_("%(size)s KB"), _("%(size)s MB"), _("%(size)s GB"))
    for unit in units[:-1]:
        if value < 1024:
            return unit % {"size": format_decimal(round(value, 1), format="#,##0.0")}
        value /= 1024
    return units[-1] % {"size": format_decimal(round(value, 1), format="#,##0.0")}


def when(moment: datetime | None) -> str:
    """A date and time in the interface language's form (UTC, as the pages say)."""
    if moment is None:
        return ""
    return format_datetime(moment, "medium")


def day(moment: datetime | date | None) -> str:
    """A date alone in the interface language's form."""
    if moment is None:
        return ""
    return format_date(moment, "medium")


def number(value: int | float | None) -> str:
    """A number with the locale's grouping: 15,000 · 15 000 · 15.000."""
    if value is None:
        return ""
    if not has_request_context():
        return f"{value:,}"
    return format_decimal(value)


# What the pages' scripts write (kb/static/*.js), by their English text: base.html hands
# them over translated as a JSON data block (#kb-messages), which the scripts read; {name}
# marks what a script fills in.
SCRIPT_MESSAGES = (
    N_("Cancel"), N_("Open it"), N_("Kept:"), N_("Sending {name} ({size})…"),
    N_("Its {fields} filled in from the file: check them."), N_("title"), N_("year"),
    N_("language"), N_(" and "),
    N_("The file is larger than the limit of {limit} MB."),
    N_("The file could not be sent (the server answered {status}); try again."),
    N_("The file is empty."), N_("The file is {size}, larger than the limit of {limit} MB."),
    N_("The connection failed while sending the file; choose it again to retry."),
    N_("Chosen {name}"), N_("Remove {name}"), N_("No match"), N_("{name} added; {count} chosen."),
    N_("{name} removed; {count} chosen."), N_("bytes"), N_("KB"), N_("MB"), N_("GB"),
)


def script_messages() -> dict[str, str]:
    """SCRIPT_MESSAGES in the interface language (only those that differ)."""
    return {m: t for m in SCRIPT_MESSAGES if (t := _(m)) != m}


def init_app(app: Flask) -> None:
    """The switch, the filters and the catalogues compiled when stale."""
    compile_catalogues()
    app.register_blueprint(bp)
    app.add_template_filter(filesize, "filesize")
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.add_template_filter(number, "number")

    @app.context_processor
    def _interface_language() -> dict[str, Any]:
        from kb.taxonomy import native_name  # kb.taxonomy imports this module

        locale = current_language()
        return {
            "script_messages": script_messages,
            "interface_language": locale,
            "interface_languages": [(code, native_name(code)) for code in languages()],
            "interface_direction": "rtl" if locale in RTL else "ltr",
        }


# Languages written right to left (of ISO 639-1): an interface language among them gets
# kb/static/rtl.css (see README, "Languages"); a document in one, dir="rtl" on its links.
RTL = frozenset({"ar", "dv", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi"})

