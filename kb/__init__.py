"""kb: the knowledge repository of the IOM-UNDP Joint Global Programme on migration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flask_babel
from flask import Flask, url_for

from kb import config as kb_config
from kb import logs


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, errors and CLI.

    Nothing here creates the database or the index: ``kb init`` does.
    """
    root = kb_config.project_root()
    settings: dict[str, Any] = dict(kb_config.DEFAULTS)
    early = {**kb_config.env_overrides(os.environ), **(test_config or {})}
    instance_dir = Path(str(early.get("INSTANCE_DIR") or root / "instance")).resolve()
    file_keys = kb_config.load_instance_file(settings, instance_dir)
    settings.update(early)
    logs.configure(settings)
    kb_config.warn_unknown(file_keys, instance_dir, os.environ)
    settings["INSTANCE_DIR"] = str(instance_dir)
    settings["UPLOAD_DIR"] = str(Path(settings["UPLOAD_DIR"] or root / "uploads").resolve())
    settings["INDEX_DIR"] = str(Path(settings["INDEX_DIR"] or instance_dir / "index").resolve())
    default_db = f"sqlite:///{instance_dir / 'kb.sqlite3'}"
    settings["DATABASE_URL"] = settings["DATABASE_URL"] or default_db
    settings["SECRET_KEY"] = settings["SECRET_KEY"] or kb_config.secret_key(instance_dir)

    app = Flask(
        __name__,
        instance_path=str(instance_dir),
        template_folder=str(root / "templates"),
        static_folder="static",
    )
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings["DATABASE_URL"]
    app.config["MAX_CONTENT_LENGTH"] = (int(settings["MAX_UPLOAD_MB"]) + 1) * 1024 * 1024
    # A form's CSRF token lives in the session cookie, which sign-in and sign-out empty and
    # which opens nothing once its server-side session has ended; its signed timestamp
    # also stops it after the session's absolute lifetime.
    app.config["WTF_CSRF_TIME_LIMIT"] = int(float(settings["SESSION_MAX_HOURS"]) * 3600)
    from kb import search

    # The engine's caches are the process's: the app made last in a process bounds them.
    cache_mb = float(settings["SEARCH_CACHE_MB"])
    if not cache_mb > 0:
        raise ValueError(f"SEARCH_CACHE_MB must be a positive number of megabytes, not "
                         f"{settings['SEARCH_CACHE_MB']!r}")
    search.configure(cache_mb=cache_mb)

    # First: its hooks see every request, even one a later hook answers early.
    logs.init_app(app)
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_errors(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:

    from kb import i18n
    from kb.extensions import babel, csrf, db, login_manager

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale,
                   default_translation_directories=str(i18n.TRANSLATIONS))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # Translated when flashed, in the language of the request that needed the sign-in.
    login_manager.login_message = i18n.N_("Please sign in to continue.")
    login_manager.localize_callback = flask_babel.gettext
    i18n.init_app(app)

    from kb import auth

    auth.register_loaders(login_manager)

    from kb.services import harvest

    # Every session's flushes keep the OAI-PMH harvest records true (once per process).
    harvest.install()

    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            from sqlalchemy import event

            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                # WAL lets the web server read while the worker writes; wait, don't fail.
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()


def register_security(app: Flask) -> None:
    from kb import security

    security.init_app(app)


def register_blueprints(app: Flask) -> None:
    from kb.views import (
        admin,
        api,
        audit,
        auth,
        bulk,
        documents,
        feeds,
        groups,
        metrics,
        mine,
        oai,
        profile,
        review,
        search,
        sitemap,
        usage,
    )

    for module in (search, documents, auth, admin, api, profile, review, groups, audit,
                   metrics, mine, oai, sitemap, feeds, bulk, usage):
        app.register_blueprint(module.bp)


def register_template_helpers(app: Flask) -> None:
    from kb import vocabularies
    from kb.extract import unit_for

    # The controlled vocabularies' labels and goals in the interface language.
    app.jinja_env.globals["vocabularies"] = vocabularies

    @app.template_global()
    def page_label(doc: Any, number: int) -> str:
        """'p. 3', 'slide 3' or 'sheet 3', after the kind of the document's file."""
        current = getattr(doc, "current_file", None)
        unit = unit_for(current.content_type) if current is not None else "page"
        if unit == "slide":
            return flask_babel.gettext("slide %(number)s", number=number)
        if unit == "sheet":
            return flask_babel.gettext("sheet %(number)s", number=number)
        return flask_babel.gettext("p. %(number)s", number=number)

    @app.template_global()
    def language_name(code: str) -> str:
        """A language's name in that language (for links to another language version)."""
        from kb import taxonomy
        return taxonomy.native_name(code)

    @app.template_global()
    def page_href(doc: Any, number: int) -> str | None:
        """A link that opens a PDF at one page in the browser's viewer (None otherwise)."""
        current = getattr(doc, "current_file", None)
        if current is None or current.content_type != "application/pdf":
            return None
        return url_for("documents.download", doc_id=doc.doc_id) + f"#page={number}"


def register_errors(app: Flask) -> None:
    from kb.views import errors

    errors.register(app)


def register_cli(app: Flask) -> None:
    from kb import cli

    cli.register(app)
