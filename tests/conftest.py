"""Fixtures: a real app on SQLite, files and a Whoosh index, all in a temporary folder."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "SECRET_KEY": "test-secret",
        "INDEX_LOCK_TIMEOUT": 10.0,
    })
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    yield app
    from kb.extensions import db

    with app.app_context():
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
