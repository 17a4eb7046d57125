"""Email: a message is queued as a job (kind ``email``, no document, the message as JSON
in its payload) in the same transaction as what it tells of, and the worker's mail lane
sends it through the SMTP server of SMTP_URL, trying again with growing waits; a message
that cannot be sent ends as a failed job with the reason (and an error in the log).

Python's own smtplib and email packages do the work: SMTP with STARTTLS or TLS and a
login is all kb needs, and they are maintained with Python itself (no new dependency).
Without SMTP_URL nothing is queued and nothing else changes.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from kb import clock, policy
from kb.errors import MailError
from kb.extensions import db
from kb.models import Document, Job, User
from kb.services import processing
from kb.services.queue import Owner

log = logging.getLogger(__name__)

KIND = "email"
MAIL_KINDS = (KIND,)
# A message is given up (its job failed) after this many attempts; the waits between
# them double from FIRST_WAIT, so a mail server down for a quarter of an hour loses none.
MAX_ATTEMPTS = 6
FIRST_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(hours=1)
# URL scheme -> (how the connection is secured, default port)
SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True)
class Message:
    """One plain-text email to one recipient (each recipient gets a job of their own)."""

    to: str
    subject: str
    body: str

    def as_payload(self) -> str:
        return json.dumps({"to": self.to, "subject": self.subject, "body": self.body})

    @classmethod
    def from_payload(cls, payload: str | None) -> Message:
        data = json.loads(payload or "{}")
        return cls(str(data["to"]), str(data["subject"]), str(data["body"]))


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: from SMTP_URL, MAIL_FROM and SMTP_TIMEOUT."""

    host: str
    port: int
    security: str  # plain | starttls | tls
    username: str | None
    password: str | None
    timeout: float
    sender: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def enabled() -> bool:
    """Whether an SMTP server is configured (without one, kb sends no email)."""
    return bool(current_app.config.get("SMTP_URL"))


def settings(config: Mapping[str, Any]) -> SmtpSettings:
    """The SMTP settings of ``config``; MailError (permanent) when SMTP_URL is malformed."""
    raw = str(config.get("SMTP_URL") or "")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise MailError(f"KB_SMTP_URL is not a URL kb can use: {e}", permanent=True) from e
    if parts.scheme not in SCHEMES or not parts.hostname:
        # Said without the URL itself: it may hold a password.
        raise MailError("KB_SMTP_URL must look like smtp://host:port, "
                        "smtp+starttls://user:password@host:587 or "
                        "smtps://user:password@host:465", permanent=True)
    security, default_port = SCHEMES[parts.scheme]
    return SmtpSettings(
        host=parts.hostname, port=port or default_port, security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=float(config["SMTP_TIMEOUT"]), sender=str(config["MAIL_FROM"]))


def compose(message: Message, sender: str) -> EmailMessage:
    """The message as sent: plain text, dated, with an id, marked as automatic."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mail["Message-ID"] = make_msgid(domain=domain)
    # No vacation replies or bounces-by-autoresponder back to kb (RFC 3834).
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body)
    return mail


def send(message: Message, smtp: SmtpSettings) -> None:
    """Send one message now; MailError says why not (``permanent`` when the server
    refused it for good: a 5xx answer, a refused login)."""
    try:
        mail = compose(message, smtp.sender)
    except ValueError as e:  # e.g. a line break in a header: no server would take it
        raise MailError(f"The message cannot be written as email: {e}", permanent=True) from e
    try:
        conn: smtplib.SMTP
        if smtp.security == "tls":
            conn = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                    context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with conn:
            if smtp.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
            if smtp.username:
                conn.login(smtp.username, smtp.password or "")
            conn.send_message(mail)
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _text in e.recipients.values()]
        raise MailError(f"The mail server at {smtp.where} refused the recipient: "
                        + "; ".join(f"{code} {text.decode(errors='replace')}"
                                    for code, text in e.recipients.values()),
                        permanent=all(code >= 500 for code in codes)) from e
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) \
            else str(e.smtp_error)
        raise MailError(f"The mail server at {smtp.where} answered {e.smtp_code} {text}",
                        permanent=e.smtp_code >= 500) from e
    except (smtplib.SMTPException, OSError) as e:  # refused, timed out, TLS, cut off
        raise MailError(f"Could not send through the mail server at {smtp.where}: "
                        f"{type(e).__name__}: {e}") from e


def queue(message: Message) -> Job | None:
    """Queue a message for the worker, in the caller's transaction (the caller commits);
    None, and nothing queued, when no SMTP server is configured."""
    if not enabled():
        return None
    # One line of at most 200 characters, whatever a document's title holds.
    message = replace(message, subject=" ".join(message.subject.split())[:200])
    job = Job(doc_id=None, kind=KIND, payload=message.as_payload(), run_after=clock.now())
    db.session.add(job)
    return job


def site_link(endpoint: str, **values: Any) -> str | None:
    """An absolute link for email, starting with SITE_URL; without it, the address the
    current request came to (None outside a request)."""
    site = current_app.config.get("SITE_URL")
    if site:
        parts = urlsplit(str(site))
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                           url_scheme=parts.scheme or "https")
        return adapter.build(endpoint, values, force_external=True)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return None


def in_language_of(user: User | None) -> Any:
    """A context in which messages render in the language ``user`` chose for the
    interface (``User.locale``), English when none was chosen: not the language of the
    request that caused the message, which may be someone else's."""
    from kb import i18n

    chosen = getattr(user, "locale", None)
    return force_locale(chosen if chosen in i18n.LANGUAGES else i18n.LANGUAGES[0])


def _label(kind: str, code: str | None) -> str:
    from kb import taxonomy

    return taxonomy.label(kind, code) if code else ""


def tell_of_submission(doc: Document, *, resubmitted: bool = False) -> int:
    """Queue a message to each editor about a document waiting for review (to the admins
    where there is no editor); returns how many were queued."""
    if not enabled():
        return 0
    editors = list(db.session.scalars(select(User).where(policy.told_of_submissions())))
    if not editors:
        editors = list(db.session.scalars(
            select(User).where(policy.told_of_submissions(fallback=True))))
    uploader = db.session.get(User, doc.uploader_id) if doc.uploader_id else None
    link = site_link("documents.detail", doc_id=doc.doc_id)
    queue_link = site_link("review.queue")
    told = 0
    for editor in editors:
        if uploader is None or editor.user_id != uploader.user_id:
            with in_language_of(editor):
                subject = (_("Resubmitted for review: %(title)s", title=doc.title)
                           if resubmitted else
                           _("Submitted for review: %(title)s", title=doc.title))
                body = render_template("mail/submitted.txt", doc=doc,
                                       resubmitted=resubmitted,
                                       uploader=uploader.email if uploader else _("someone"),
                                       doc_type=_label("type", doc.doc_type),
                                       link=link, queue_link=queue_link)
            queue(Message(editor.email, subject, body))
            told += 1
    return told


def tell_uploader(doc: Document, action: str, actor: object) -> bool:
    """Queue a message to a document's uploader that an editor published or returned it
    (a return with the editor's comment); False when there is nobody to tell."""
    if not enabled() or action not in ("publish", "return") or doc.uploader_id is None:
        return False
    uploader = db.session.get(User, doc.uploader_id)
    if uploader is None or not uploader.active \
            or uploader.user_id == getattr(actor, "user_id", None):
        return False
    with in_language_of(uploader):
        subject = (_("Published: %(title)s", title=doc.title) if action == "publish"
                   else _("Returned to you: %(title)s", title=doc.title))
        body = render_template("mail/decided.txt", doc=doc, action=action,
                               comment=doc.workflow_comment or "",
                               link=site_link("documents.detail", doc_id=doc.doc_id),
                               edit_link=site_link("documents.edit", doc_id=doc.doc_id),
                               mine_link=site_link("mine.documents"))
    queue(Message(uploader.email, subject, body))
    return True


def send_queued(owner: Owner, stop: Callable[[], bool] = lambda: False,
                tally: Counter[str] | None = None) -> int:
    """Send the email jobs that are due, one at a time, until none is left (or ``stop``);
    returns how many jobs ran (a ``tally`` counts the messages sent as "email").

    Without SMTP_URL here, queued messages wait (another worker may have it set)."""
    if not enabled():
        return 0
    ran = 0
    while not stop():
        jobs = processing.claim(owner, 1, MAIL_KINDS, due_at=clock.now())
        if not jobs:
            break
        ran += 1
        job = jobs[0]
        try:
            message = Message.from_payload(job.payload)
        except (ValueError, KeyError, TypeError) as e:
            _attempt_failed(job, MailError(f"The queued message is unreadable: {e}",
                                           permanent=True))
            continue
        try:
            send(message, settings(current_app.config))
        except MailError as e:
            _attempt_failed(job, e)
            continue
        # The body may hold a password reset link: once sent, the database keeps no copy.
        job.payload = json.dumps({"to": message.to, "subject": message.subject})
        job.state, job.last_error, job.last_error_code = "done", None, None
        _unlock(job)
        db.session.commit()
        log.info("job %s done: email sent to %s", job.job_id, message.to,
                 extra={"job_id": job.job_id, "kind": KIND})
        if tally is not None:
            tally["email"] += 1
    return ran


def _attempt_failed(job: Job, error: MailError) -> None:
    """Try the message again later, or, after MAX_ATTEMPTS or a permanent refusal, mark
    its job failed with the reason."""
    job.attempts += 1
    job.last_error = error.message
    job.last_error_code = "mail-refused" if error.permanent else "mail-failed"
    _unlock(job)
    fields = {"job_id": job.job_id, "kind": KIND, "attempts": job.attempts,
              "error_code": job.last_error_code}
    if error.permanent or job.attempts >= MAX_ATTEMPTS:
        job.state = "failed"
        log.error("job %s failed: email not sent after %d attempts: %s", job.job_id,
                  job.attempts, error.message, extra=fields)
    else:
        wait = min(MAX_WAIT, FIRST_WAIT * 2 ** (job.attempts - 1))
        job.state, job.run_after = "queued", clock.now() + wait
        log.warning("job %s: email attempt %d failed, trying again in %d s: %s", job.job_id,
                    job.attempts, wait.total_seconds(), error.message, extra=fields)
    db.session.commit()


def _unlock(job: Job) -> None:
    job.locked_by = job.locked_host = job.locked_pid = job.locked_started = None
    job.locked_at = job.heartbeat_at = None
