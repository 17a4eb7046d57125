"""The `kb` command line."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext

from kb import search
from kb.errors import KbError
from kb.extensions import db

if TYPE_CHECKING:
    from kb.models import User


def _create_app() -> Flask:
    from kb import create_app

    return create_app()


def _fail(e: KbError) -> None:
    click.echo(f"Error: {e.message}", err=True)
    sys.exit(1)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the instance, or bring it up to date after an upgrade: folders, database
    schema (migrated to the newest revision), search index, agency list.

    Safe to run again: it only adds what is missing. With no users yet, it creates an
    admin account and prints its email and a random password once.
    """
    from kb import migrate
    from kb.services import accounts

    for key in ("INSTANCE_DIR", "UPLOAD_DIR"):
        # The database (password hashes), the index and the files of restricted documents
        # are for kb's own account only.
        folder = Path(current_app.config[key])
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            click.echo(f"Warning: other accounts on this machine can open {folder}, which "
                       f"holds private data; run: chmod 700 {folder}", err=True)
    before = migrate.current_revision()
    migrate.upgrade()
    after = migrate.current_revision()
    if before != after:
        click.echo(f"Database schema: {before or 'new'} -> {after}")
    index_dir = Path(current_app.config["INDEX_DIR"])
    rebuilt = search.needs_rebuild(index_dir)
    search.create(index_dir)
    accounts.seed_agencies()
    if rebuilt and _document_count():
        from kb.services.processing import rebuild_index

        click.echo(f"Search index rebuilt: {rebuild_index()} documents.")
    if accounts.count_users() == 0:
        email = current_app.config["ADMIN_EMAIL"]
        password = secrets.token_urlsafe(12)
        accounts.create_user(email, password, "admin", via="kb init")
        click.echo("Created the first admin account (shown only this once):")
        click.echo(f"  email:    {email}")
        click.echo(f"  password: {password}")
    click.echo(f"Instance ready in {current_app.config['INSTANCE_DIR']}")


def _document_count() -> int:
    from sqlalchemy import func, select

    from kb.models import Document

    return int(db.session.scalar(select(func.count()).select_from(Document)) or 0)


@click.group("db")
def db_group() -> None:
    """The database schema's migrations (Alembic): `kb init` upgrades by itself."""


@db_group.command("current")
@click.option("--verbose", "-v", is_flag=True, help="Show the revision's details.")
@with_appcontext
def db_current(verbose: bool) -> None:
    """Print the database's revision, with "(head)" when it is the newest."""
    from kb import migrate

    migrate.current(stdout=_Echo(), verbose=verbose)


class _Echo:
    """A text stream that writes through click (so that CliRunner and pipes see it)."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        click.echo(text, nl=False)
        return len(text)

    def flush(self) -> None:
        pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest, "head")."""
    from kb import migrate

    migrate.upgrade(revision)
    click.echo(f"Database at revision {migrate.current_revision()}.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION (an id, or e.g. "-1"); take a backup first."""
    from kb import migrate

    migrate.downgrade(revision)
    click.echo(f"Database at revision {migrate.current_revision() or 'base (empty)'}.")


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(dest: Path) -> None:
    """Back the repository up into the folder DEST, while it runs.

    DEST keeps every stored file once, by its SHA-256, so another backup into the same
    DEST copies only new files; each backup adds a folder under DEST/snapshots with the
    database, the secret key and a manifest of every file's SHA-256. The search index is
    rebuilt by `kb restore`. DEST holds password and token hashes and the secret key:
    keep it as private as the instance folder.
    """
    from kb import backup

    try:
        report = backup.backup(dest, click.echo)
    except KbError as e:
        _fail(e)
    click.echo(report.summary())


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def restore_command(src: Path) -> None:
    """Make a new instance from the newest backup in SRC (or the snapshot SRC names).

    The configured instance must be new: an empty database and upload folder (no `kb init`
    first). Every file is checked against the manifest's SHA-256 before anything is
    written; a damaged backup is refused with the file named. Documents, their ids, users,
    groups, API tokens, the secret key, the audit trail and the thesaurus come back, and
    the search index is rebuilt before the command returns.
    """
    from kb import backup

    try:
        report = backup.restore(src, click.echo)
    except KbError as e:
        _fail(e)
    click.echo(report.summary())


@click.group("user")
def user_group() -> None:
    """Manage accounts."""


@user_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "editor", "contributor", "reader"]),
              default="reader", show_default=True, help="What the account may do.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@with_appcontext
def user_add(email: str, role: str, password_stdin: bool) -> None:
    """Add an account with EMAIL and ROLE."""
    from kb.services import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(email, password, role, via="command line")
    except KbError as e:
        _fail(e)
    click.echo(f"Added {user.email} ({user.role}).")


@user_group.command("disable")
@click.argument("email")
@with_appcontext
def user_disable(email: str) -> None:
    """Disable the account EMAIL: no sign-in; its sessions end and its API tokens are
    revoked at once, for good (enabling it again brings neither back)."""
    from kb.services import accounts

    accounts.set_active(_user_or_fail(email), False)
    click.echo(f"Disabled {accounts.normalise_email(email)}.")


@user_group.command("enable")
@click.argument("email")
@with_appcontext
def user_enable(email: str) -> None:
    """Let the disabled account EMAIL sign in again (with new sessions and tokens)."""
    from kb.services import accounts

    accounts.set_active(_user_or_fail(email), True)
    click.echo(f"Enabled {accounts.normalise_email(email)}.")


def _user_or_fail(email: str) -> User:
    from kb.services import accounts

    user = accounts.find_user(email)
    if user is None:
        click.echo(f"Error: no account for {email}.", err=True)
        sys.exit(1)
    return user


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("email")
@click.option("--name", default=None, help="A name to recognise the token by.")
@with_appcontext
def token_create(email: str, name: str | None) -> None:
    """Print one new API token for EMAIL on standard output (only its hash is stored)."""
    from kb.services import accounts

    click.echo(accounts.create_token(_user_or_fail(email), name, via="command line"))


@token_group.command("list")
@click.argument("email")
@with_appcontext
def token_list(email: str) -> None:
    """List the API tokens of EMAIL: id, name, created (UTC) and state; never the secrets."""
    from kb.services import accounts

    rows = accounts.tokens_of(_user_or_fail(email))
    if not rows:
        click.echo("No tokens.")
        return
    click.echo(f"{'ID':>6}  {'NAME':<30}  {'CREATED (UTC)':<16}  STATE")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.token_id:>6}  {(row.name or '-')[:30]:<30}  "
                   f"{row.created_at:%Y-%m-%d %H:%M}  {state}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (see `kb token list`); it is refused at once."""
    from kb.services import accounts

    try:
        row = accounts.revoke_token(None, token_id, via="command line")
    except KbError as e:
        _fail(e)
    click.echo(f"Revoked token {row.token_id} of {row.user.email}.")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with a header: 'file' (relative to the manifest; the file must lie "
                   "inside PATH) and any of title, summary, type, countries, agencies, "
                   "themes, language, year, phase, access, groups; several values in a cell "
                   "separated by ';'.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Extraction processes (default: one per core).")
@click.option("--as", "as_email", default=None,
              help="Record the documents as uploaded by this account (default: none).")
@with_appcontext
def import_command(path: Path, manifest: Path | None, workers: int | None,
                   as_email: str | None) -> None:
    """Import every file in PATH (or those the manifest lists), then index them.

    Only files inside PATH are read: a manifest row that leads out of it (`../`, an
    absolute path elsewhere, a symbolic link out) stops the import before anything is
    stored, naming its line; without a manifest, links out of PATH are reported and not
    imported. A PATH that is, holds or lies inside kb's instance, upload or index folder
    is refused.

    Files already stored (same SHA-256) are skipped. The last line of the output counts
    imported, duplicate and failed files; the reasons for failures are listed above it.
    A file stored but not yet searchable (the index could not be written) counts as
    failed; the background worker indexes it later. Exit code 0 when no file failed, 1
    when any did or when the import was refused (2 for a wrong option).
    The import runs at a lower CPU priority than the web server (nice 10): a busy site
    answers first, an idle machine imports as fast.
    """
    import os

    from kb.importer import IMPORT_NICENESS, console_progress, lower_priority, run_import
    from kb.services import accounts

    user = accounts.find_user(as_email) if as_email else None
    if as_email and user is None:
        click.echo(f"Error: no account for {as_email}.", err=True)
        sys.exit(1)

    # Before any thread or child process starts: they inherit it (the index writer too).
    lower_priority(IMPORT_NICENESS)
    try:
        report = run_import(path.resolve(), manifest.resolve() if manifest else None,
                            workers or os.cpu_count() or 1, user, console_progress)
    except KbError as e:
        _fail(e)
    for name in report.not_listed:
        click.echo(f"not in the manifest, not imported: {name}")
    for reason in report.reasons:
        click.echo(f"failed: {reason}")
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


@click.command("reindex")
@with_appcontext
def reindex_command() -> None:
    """Rebuild the whole search index from the database and the stored text."""
    from kb.services.processing import rebuild_index

    try:
        n = rebuild_index()
    except KbError as e:
        _fail(e)
    click.echo(f"Indexed {n} documents.")


@click.command("purge")
@click.argument("doc_ids", nargs=-1, type=int)
@with_appcontext
def purge_command(doc_ids: tuple[int, ...]) -> None:
    """Purge the documents whose time in the trash is up (KB_TRASH_DAYS days after their
    deletion), or DOC_IDS (documents in the trash) now.

    A purged document leaves a tombstone: its page answers 410 Gone and OAI-PMH reports it
    deleted. Its stored files are deleted unless another document names them. The worker
    runs the same purge daily.
    """
    from kb.services import trash

    if doc_ids:
        admin = _operator()
        for doc_id in doc_ids:
            try:
                trash.purge(doc_id, admin)
            except KbError:
                click.echo(f"Error: document {doc_id} is not in the trash.", err=True)
                sys.exit(1)
        purged = list(doc_ids)
    else:
        purged = trash.purge_expired()
    click.echo(f"Purged {len(purged)} documents" + (f": {', '.join(map(str, purged))}."
                                                    if purged else "."))


def _operator() -> object:
    """The operator at the command line, as the policy sees an admin (audited as "cli")."""
    from types import SimpleNamespace

    return SimpleNamespace(is_authenticated=True, active=True, role="admin", user_id=None,
                           email="cli", groups=[])


@click.command("doctor")
@click.option("--quick", is_flag=True,
              help="Compare sizes only, without reading every stored file for its SHA-256.")
@click.option("--repair", is_flag=True,
              help="Fix what can be fixed: re-queue stuck work, re-index, quarantine stored "
                   "files no record names; then check again.")
@with_appcontext
def doctor_command(quick: bool, repair: bool) -> None:
    """Check that the database, the stored files and the search index agree.

    Stored files: each must exist with its recorded size and SHA-256; old stored files no
    record names are problems, young ones, partial uploads and the quarantine are notes.
    Index: each finished document in it once, with its record's metadata, and nothing the
    database lacks. Queue: no job `running` for a holder that has ended or gone silent, no
    document `processing` without a job. Each problem is printed with its document's id
    and what --repair does about it; exits 1 when a problem is found (with --repair: when
    one is left after repairing), else prints "no problems found" and exits 0. --repair
    never deletes a stored file.
    """
    from kb.services import doctor

    options = doctor.Options(hashes=not quick)
    findings = doctor.run(options)
    for finding in findings:
        click.echo(finding.line())
    problems = sum(f.problem for f in findings)
    if problems and repair:
        click.echo(f"{problems} problem{'s' if problems > 1 else ''} found; repairing")
        try:
            click.echo(doctor.repair(findings).summary())
        except KbError as e:
            _fail(e)
        left = [f for f in doctor.run(options) if f.problem]
        for finding in left:
            click.echo(f"left: {finding.line()}")
        problems = len(left)
        if problems:
            click.echo(f"{problems} problem{'s' if problems > 1 else ''} left")
            sys.exit(1)
        click.echo("no problems left")
        return
    if problems:
        click.echo(f"{problems} problem{'s' if problems > 1 else ''} found")
        sys.exit(1)
    click.echo("no problems found")


@click.command("reextract")
@click.argument("doc_ids", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="Every document whose extraction failed.")
@with_appcontext
def reextract_command(doc_ids: tuple[int, ...], failed: bool) -> None:
    """Read the stored files of DOC_IDS (or of all failed documents) again, then index them.

    The originals are never modified. Ends with a line counting ready and failed documents.
    """
    from sqlalchemy import select

    from kb.models import Document
    from kb.services import documents, isolation, processing, queue

    query = select(Document)
    if failed:
        query = query.where(Document.status == "failed")
    if doc_ids:
        query = query.where(Document.doc_id.in_(doc_ids))
    elif not failed:
        click.echo("Error: name documents by id, or use --failed.", err=True)
        sys.exit(2)
    docs = list(db.session.scalars(query))
    documents.requeue_extraction(docs)
    db.session.commit()
    sandbox = isolation.shared_sandbox(isolation.limits_from(current_app.config))
    owner = queue.this_process("reextract")
    stale = float(current_app.config["WORKER_STALE_SECONDS"])
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with queue.Heartbeat(app, [owner], queue.beat_interval(stale)):
        processing.process_pending(
            owner, int(current_app.config["WORKER_BATCH"]),
            extractor=processing.configured_extractor(sandbox.run, current_app.config))
    ids = [d.doc_id for d in docs]
    after = list(db.session.scalars(select(Document).where(Document.doc_id.in_(ids))))
    for doc in after:
        if doc.status == "failed":
            click.echo(f"failed: {doc.doc_id} {doc.title}: {doc.error}")
    ready = sum(d.status == "ready" for d in after)
    click.echo(f"re-extracted {len(after)}: {ready} ready, {len(after) - ready} failed")


@click.group("thesaurus")
def thesaurus_group() -> None:
    """Manage the multilingual thesaurus behind cross-language search and theme choices."""


@thesaurus_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None,
              help="Name of this thesaurus (default: the file name without its extension). "
                   "Importing a source again replaces its earlier import.")
@with_appcontext
def thesaurus_import(file: Path, source: str | None) -> None:
    """Import a thesaurus FILE: UTF-8, tab-separated, one concept a line.

    The header names each column's language by its ISO 639-1 code (e.g. "ar zh en fr ru
    es"); a cell holds the concept's label in that language and may be empty. A line
    whose number of columns differs from the header's stops the import before anything
    changes. Searches in every running process use the new labels from their next query.
    """
    from kb.services import thesaurus

    try:
        report = thesaurus.import_file(file, source=source)
    except KbError as e:
        _fail(e)
    if report.skipped:
        lines = "line" if report.skipped == 1 else "lines"
        click.echo(f"skipped {report.skipped:,} {lines} with no label")
    if report.replaced:
        click.echo(f"replaced the {report.replaced:,} concepts of the previous import")
    click.echo(report.summary())


@thesaurus_group.command("stats")
@with_appcontext
def thesaurus_stats() -> None:
    """Show the thesaurus version, the concepts of each source and labels per language."""
    from kb.services import thesaurus

    stats = thesaurus.stats()
    if not stats.sources:
        click.echo("No thesaurus imported yet: see `kb thesaurus import --help`.")
        return
    when = f"{stats.changed_at:%Y-%m-%d %H:%M} UTC" if stats.changed_at else "unknown"
    click.echo(f"version {stats.version}, last import {when}")
    for name, count in stats.sources:
        click.echo(f"source {name}: {count:,} concepts")
    click.echo("labels: " + ", ".join(f"{lang} {count:,}" for lang, count in stats.labels_by_lang))


@click.command("worker")
@click.option("--once", is_flag=True, help="Stop when the queue is empty.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes to run; only the first writes the index.")
@click.option("--index/--no-index", "index", default=None,
              help="Write the search index, or only extract and leave indexing to a worker "
                   "on the machine that holds the index (default: the WORKER_INDEXES "
                   "setting, true unless set).")
# `kb serve` passes its own process id: the worker stops when that process ends.
@click.option("--parent", type=int, default=None, hidden=True)
@with_appcontext
def worker_command(once: bool, concurrency: int, index: bool | None,
                   parent: int | None) -> None:
    """Run the background worker that extracts and indexes uploads and sends email.

    Scanned PDFs are read by OCR in a lane of their own, so other uploads go on meanwhile;
    email (when KB_SMTP_URL is set) has a lane of its own too, retried when it fails.
    Jobs of a worker that died are given back at once on the same machine, and after
    WORKER_STALE_SECONDS without a heartbeat on any other. Several workers, on one
    machine or several, share the queue without ever taking the same job. Prints what it
    ran when it stops.
    """
    from kb import worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if concurrency > 1:
        if once:
            raise click.UsageError("--once runs a single process: leave out --concurrency.")
        worker.run_many(app, concurrency, index)
        return
    click.echo(worker.summary(worker.run(app, once=once, parent=parent, index=index)))
    sys.stdout.flush()  # said even if something holds up the interpreter's exit


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=int,
              help="Web server processes (default: the WEB_WORKERS setting).")
@with_appcontext
def serve_command(host: str, port: int, workers: int | None) -> None:
    """Serve the site with gunicorn and run the background worker beside it.

    Warns at start (on standard error) about what needs an administrator: a missing or
    damaged search index (run `kb reindex`), low disk space.
    """
    from kb.serve import serve
    from kb.services import health

    for warning in health.start_warnings():
        click.echo(f"Warning: {warning}", err=True)

    serve(host, port, workers or int(current_app.config["WEB_WORKERS"]))


COMMANDS: list[Any] = [init_command, db_group, user_group, token_group, import_command,
                       reindex_command, reextract_command, purge_command, doctor_command,
                       thesaurus_group,
                       backup_command, restore_command,
                       worker_command, serve_command]


def register(app: Flask) -> None:
    """Make the commands available as ``flask --app kb ...`` too."""
    for command in COMMANDS:
        app.cli.add_command(command)


@click.group(name="kb", help="kb: the programme's knowledge repository.")
def cli() -> None:
    pass


for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point of the `kb` command."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        cli(obj=ScriptInfo(create_app=_create_app, set_debug_flag=False))
    except (OperationalError, InterfaceError) as e:
        # Never a silent fall-back, never a traceback: which database, and why.
        from sqlalchemy.engine import make_url

        url = make_url(_create_app().config["DATABASE_URL"])
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        click.echo(f"Error: the database {url.render_as_string(hide_password=True)} "
                   f"cannot be used: {reason}", err=True)
        sys.exit(1)
