"""Database migrations with Alembic: the schema's history lives in kb/migrations/versions.

`kb init` upgrades every database to the newest revision: a new one is built by running
the revisions in order, and one made before kb used Alembic is recognised by its tables
(the first revision creates only the tables that are missing) and brought up to date,
never recreated. `kb db` gives operators Alembic's own commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from kb.extensions import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None, stdout: Any = None) -> Config:
    config = Config(stdout=stdout) if stdout is not None else Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(stdout: Any = None) -> Iterator[Config]:
    """An Alembic configuration bound to one connection of the app's engine, committed on
    success."""
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A revision that rebuilds a table (SQLite's batch mode: copy, drop, rename)
            # must not have the drop cascade into the tables that refer to it. The pragma
            # only takes outside a transaction; the keys are checked before the commit.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield _config(connection, stdout)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"The migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    with _connected() as config:
        command.upgrade(config, revision)


def downgrade(revision: str) -> None:
    """Take the database back to ``revision``."""
    with _connected() as config:
        command.downgrade(config, revision)


def current(stdout: Any = None, verbose: bool = False) -> None:
    """Print Alembic's own account of the database's revision (``(head)`` when current)."""
    with _connected(stdout) as config:
        command.current(config, verbose=verbose)


def current_revision() -> str | None:
    """The database's revision id, None before any migration ran."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def differences() -> list[Any]:
    """What autogenerate finds between the migrated database and the models (empty when
    they agree)."""
    from alembic.autogenerate import compare_metadata

    from kb import models  # noqa: F401  (every table on the metadata)

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))
