"""The index writer of bulk imports, run as a child process by kb.importer.

A module of its own so that the child imports little more than the search package: it
needs neither the web application nor the database.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from multiprocessing.connection import Connection
from pathlib import Path

from kb import search
from kb.errors import KbError

log = logging.getLogger(__name__)


def serve(conn: Connection, index_dir: str, timeout: float,
          log_settings: dict[str, str] | None = None) -> None:
    """The index writer (a child process): one commit per batch of records it receives;
    answers None, or why the batch was not written."""
    from kb import logs

    logs.configure(log_settings or {})
    # Ctrl-C reaches the whole process group: the importer decides when this child stops
    # (after the commit under way, never in the middle of it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # Linux: `top` and `ps -o comm` show "kb-index"
        Path("/proc/self/comm").write_text("kb-index")
    while True:
        try:
            batch = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if batch is None:
            return
        try:
            search.write_records(Path(index_dir), batch, timeout)
        except KbError as e:  # the index lock was not free in time
            conn.send(e.message)
        except Exception as e:  # a process boundary: report the batch, keep serving
            log.exception("index writer: a batch of %d documents failed", len(batch))
            conn.send(f"Indexing failed ({type(e).__name__}: {e})")
        else:
            conn.send(None)
