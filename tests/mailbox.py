"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, keeping every message it receives
so that a test reads the email kb sent as a person would."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from tests.conftest import free_port, wait_for

# aiosmtpd logs every SMTP command at INFO: the tests' output needs none of it.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    """One message as the server received it: the envelope's recipients and the mail."""

    recipients: tuple[str, ...]
    mail: EmailMessage
    login: str | None

    @property
    def to(self) -> str:
        return str(self.mail["To"])

    @property
    def subject(self) -> str:
        return str(self.mail["Subject"])

    @property
    def body(self) -> str:
        part = self.mail.get_body(("plain",))
        assert part is not None, self.mail
        return str(part.get_content())

    def links(self) -> list[str]:
        return re.findall(r"https?://\S+", self.body)


class Mailbox:
    """An SMTP server on 127.0.0.1:``port`` (a free one by default); with ``users``
    (name -> password) it offers a login and checks it (without TLS)."""

    def __init__(self, port: int | None = None, users: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.users = users
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        options: dict[str, Any] = {}
        if self.users is not None:
            # Logins are checked, over plain SMTP (tests have no certificate).
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Mailbox:
        return self if self._controller is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _authenticate(self, _server: Any, session: Any, _envelope: Any, mechanism: str,
                      auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword) or self.users is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        ok = self.users.get(login) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = BytesParser(policy=policy.default).parsebytes(envelope.original_content
                                                             or envelope.content)
        assert isinstance(mail, EmailMessage)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        with self._lock:
            self._received.append(Received(tuple(envelope.rcpt_tos), mail, login))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def to(self, address: str) -> list[Received]:
        """The messages received for ``address``."""
        return [m for m in self.messages if address in m.recipients]

    def wait_for(self, address: str, subject: str = "", bound: float = 60.0) -> Received:
        """The first message for ``address`` whose subject holds ``subject``, once it
        has arrived (fails after ``bound`` seconds)."""
        found: Received = wait_for(
            f"an email to {address} about {subject!r}",
            lambda: next((m for m in self.to(address) if subject in m.subject), None),
            bound=bound)
        return found


def running_mailbox(port: int | None = None,
                    users: dict[str, str] | None = None) -> Iterator[Mailbox]:
    """A started Mailbox, stopped afterwards (for fixtures)."""
    box = Mailbox(port, users).start()
    try:
        yield box
    finally:
        box.stop()
