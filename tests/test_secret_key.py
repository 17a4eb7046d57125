"""The generated secret key is readable by kb's own account only."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from kb import create_app


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Configuration with no secret key given, so kb generates one in the instance."""
    monkeypatch.delenv("KB_SECRET_KEY", raising=False)
    return {"INSTANCE_DIR": str(tmp_path / "instance"), "UPLOAD_DIR": str(tmp_path / "up")}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_generated_key_is_private_even_with_a_permissive_umask(fresh):
    old = os.umask(0)
    try:
        app = create_app(fresh)
    finally:
        os.umask(old)
    key = Path(fresh["INSTANCE_DIR"]) / "secret_key"
    assert mode(key) == 0o600
    assert app.config["SECRET_KEY"] == key.read_text()
    assert create_app(fresh).config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_an_existing_key_readable_by_others_is_made_private_and_reported(fresh, caplog):
    key = Path(fresh["INSTANCE_DIR"]) / "secret_key"
    key.parent.mkdir()
    key.write_text("an-old-key-from-an-earlier-version")
    key.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="kb.config"):
        app = create_app(fresh)
    assert app.config["SECRET_KEY"] == "an-old-key-from-an-earlier-version"
    assert mode(key) == 0o600
    assert any(str(key) in r.getMessage() and "644" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kb.config"):
        create_app(fresh)
    assert not caplog.records  # private now: nothing more to say


def test_init_makes_the_instance_and_upload_folders_private(fresh, tmp_path):
    old = os.umask(0o022)
    try:
        app = create_app(fresh)
        res = app.test_cli_runner().invoke(args=["init"])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert mode(tmp_path / "instance") == 0o700
    assert mode(tmp_path / "up") == 0o700
    assert "Warning" not in res.output

    (tmp_path / "up").chmod(0o755)  # an older instance's folder: said, not changed
    res = app.test_cli_runner().invoke(args=["init"])
    assert res.exit_code == 0
    assert f"other accounts on this machine can open {tmp_path / 'up'}" in res.output
    assert f"chmod 700 {tmp_path / 'up'}" in res.output
    from kb.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
