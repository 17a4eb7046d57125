"""Fixtures: a real app on SQLite, files and a Whoosh index, all in a temporary folder."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from kb import create_app

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
PDF_SAMPLES = CORPORA / "pdf-samples"
UNGDC_TAR = CORPORA / "ungdc-2011-2018.tar.gz"


def need_corpora(path: Path) -> Path:
    """Skip, saying why, where the shared corpora are not beside the project."""
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared corpora are only on the team's machines")
    return path


# A PostgreSQL server (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/) on which each
# test gets a database of its own, created and dropped around it; unset: SQLite files.
TEST_DATABASE_URL = os.environ.get("KB_TEST_DATABASE_URL", "")
_databases = itertools.count(1)


@pytest.fixture
def new_database() -> Iterator[Callable[[], str | None]]:
    """Makes new, empty databases on the server KB_TEST_DATABASE_URL names, dropped after
    the test (each call: None when that is unset, for the app's default SQLite file)."""
    if not TEST_DATABASE_URL:
        yield lambda: None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(TEST_DATABASE_URL)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"kbtest_{os.getpid()}_{next(_databases)}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(new_database: Callable[[], str | None]) -> str | None:
    """A new, empty database for one test on the server KB_TEST_DATABASE_URL names (None:
    the app's default SQLite file in its instance folder)."""
    return new_database()


class Clock:
    """The time kb.clock reports (app.config["CLOCK"]): moved by the test, never slept."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_app(root: Path, database_url: str | None, **config: Any) -> Flask:
    """An app with its instance and uploads under ``root`` and the test's database."""
    settings: dict[str, Any] = {
        "TESTING": True,
        "INSTANCE_DIR": str(root / "instance"),
        "UPLOAD_DIR": str(root / "uploads"),
        "SECRET_KEY": "test-secret",
        "INDEX_LOCK_TIMEOUT": 10.0,
        # A wall-clock bound: on a loaded machine (CI on two cores) an ordinary search must
        # not become a 503. The tests of the limit itself set their own.
        "SEARCH_TIME_LIMIT": 60.0,
    }
    if database_url:
        settings["DATABASE_URL"] = database_url
    settings.update(config)
    return create_app(settings)


def same_instance(app: Flask, **config: Any) -> Flask:
    """Another app on the same instance, uploads and database (as a second web worker)."""
    root = Path(app.config["INSTANCE_DIR"]).parent
    return make_app(root, app.config["DATABASE_URL"], INSTANCE_DIR=app.config["INSTANCE_DIR"],
                    UPLOAD_DIR=app.config["UPLOAD_DIR"], **config)


def kb_env(app: Flask, **extra: str) -> dict[str, str]:
    """The environment for a `kb` subprocess on the app's instance and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"],
                "KB_UPLOAD_DIR": app.config["UPLOAD_DIR"],
                "KB_SECRET_KEY": app.config["SECRET_KEY"],
                "KB_DATABASE_URL": app.config["DATABASE_URL"],
                "KB_SEARCH_TIME_LIMIT": str(app.config["SEARCH_TIME_LIMIT"])})
    env.update(extra)
    return env


@pytest.fixture
def app(tmp_path: Path, database_url: str | None) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    yield app
    from kb.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@dataclass
class Account:
    email: str
    password: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(runner: FlaskCliRunner) -> Callable[[str], Account]:
    """Create an account through the CLI, with an API token; returns its credentials."""
    counter = iter(range(1, 1000))

    def make(role: str = "contributor") -> Account:
        email = f"{role}{next(counter)}@example.org"
        password = "correct horse battery"
        res = runner.invoke(args=["user", "add", email, "--role", role, "--password-stdin"],
                            input=password + "\n")
        assert res.exit_code == 0, res.output
        res = runner.invoke(args=["token", "create", email])
        assert res.exit_code == 0, res.output
        return Account(email, password, role, res.output.strip())

    return make


@pytest.fixture
def editor(make_user: Callable[[str], Account]) -> Account:
    return make_user("editor")


@pytest.fixture
def process(runner: FlaskCliRunner) -> Callable[[], None]:
    """Run the background worker until its queue is empty (the real `kb worker --once`)."""

    def run() -> None:
        res = runner.invoke(args=["worker", "--once"])
        assert res.exit_code == 0, res.output

    return run


@pytest.fixture
def upload(client: FlaskClient, editor: Account) -> Callable[..., Any]:
    """POST a file to the API as an editor; returns the response."""

    def post(data: bytes | Path, filename: str = "doc.txt", account: Account | None = None,
             **meta: Any) -> Any:
        raw = data.read_bytes() if isinstance(data, Path) else data
        form: dict[str, Any] = {"title": meta.pop("title", filename), **meta}
        form["file"] = FileStorage(io.BytesIO(raw), filename)
        return post_multipart(client, "/api/v1/documents", form, (account or editor).headers)

    return post


def post_multipart(client: FlaskClient, url: str, form: dict[str, Any],
                   headers: dict[str, str] | None = None) -> Any:
    """POST a multipart body encoded in memory (the test client's own encoder spools large
    bodies to a temporary file that it never closes)."""
    fields = MultiDict()
    for key, value in form.items():
        for v in value if isinstance(value, list) else [value]:
            fields.add(key, v)
    boundary, body = encode_multipart(fields)
    return client.post(url, data=body, headers=headers or {},
                       content_type=f"multipart/form-data; boundary={boundary}")


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: FlaskClient, account: Account) -> None:
    page = client.get("/login")
    res = client.post("/login", data={"email": account.email, "password": account.password,
                                      "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert res.status_code == 302, res.get_data(as_text=True)


@pytest.fixture(scope="session")
def ungdc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The UN General Debate speeches, unpacked once per test session."""
    need_corpora(UNGDC_TAR)
    target = tmp_path_factory.mktemp("ungdc")
    with tarfile.open(UNGDC_TAR) as tar:
        tar.extractall(target, filter="data")
    return target / "ungdc-2011-2018"


def wait_for(what: str, check: Callable[[], Any], bound: float = 60.0,
             every: float = 0.1) -> Any:
    """Poll ``check`` until it gives something true (returned); fail naming ``what`` after
    ``bound`` seconds. A wait on a condition, never a timing assert."""
    deadline = time.monotonic() + bound
    while not (found := check()):
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(every)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """``folder`` as a small tmpfs of its own (e.g. ``size=1m``) for a test to fill,
    unmounted afterwards; skips, saying why, when not root or mounting fails."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root; run the tests as root")
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Debian Chromium for the whole session (tests/browser_kit.py has the rest)."""
    from tests.browser_kit import CHROMIUM, CHROMIUM_ARGS, need_chromium

    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()

