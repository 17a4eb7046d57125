"""Extraction in a separate process, with a wall-clock limit, a memory limit and a cap on
extracted characters: a hostile or broken file ends in a named failure, never in a dead
or stuck worker.

Each `Sandbox` keeps one child process (started with "spawn": no inherited database
connections or locks) and lends it one file at a time. A child that overruns its time
is killed and replaced; one that runs out of memory answers with a MemoryError, and is
replaced too. One that dies is named after what ended it: a signal from outside
(SIGKILL, SIGTERM...) is no fault of the file and the job is retried; a crash is.

The same child draws PDFs' first-page thumbnails (PDFium, C code reading the same hostile
files) and reads what a file sent ahead of the upload form says about itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from kb import logs
from kb.extract import PDF
from kb.extract.thumbnail import Thumbnail
from kb.services.processing import Outcome

log = logging.getLogger(__name__)
_CTX = multiprocessing.get_context("spawn")
# What the child is asked to do with a file: read its text, read what it says about itself
# (the upload form's prefill), or draw its first page.
EXTRACT, PREVIEW, THUMBNAIL = "extract", "preview", "thumbnail"


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0
    memory_bytes: int = 1024 * 1024 * 1024
    max_chars: int = 20_000_000


def _child(conn: Connection, memory_bytes: int, log_settings: dict[str, str]) -> None:
    """The child's loop: extract what it is sent, answer an Outcome, until told to stop."""
    import resource

    from kb import logs
    from kb.services.queue import exit_with_parent

    logs.configure(log_settings)

    # Address space, not resident size: generous, but a decompression bomb hits it.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # A worker killed outright must not leave its child reading on.
    exit_with_parent(signal.SIGKILL)
    from kb.services.processing import extract_outcome, preview_outcome

    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        kind, path, mime, max_chars, log_fields = task
        if kind == THUMBNAIL:
            conn.send(_thumbnail(path, log_fields))
            continue
        read = preview_outcome if kind == PREVIEW else extract_outcome
        try:
            with logs.bound(**log_fields):  # the job's id on what the readers log
                outcome = read(path, mime)
            if sum(len(p) for p in outcome.pages) > max_chars:
                outcome = Outcome(
                    error=f"The file holds more than {max_chars:,} characters of text, the "
                          "limit for one document; split it into parts and upload those.",
                    error_code="too-large")
        except MemoryError:
            outcome = _too_much_memory(memory_bytes)
        except RecursionError:
            outcome = Outcome(error="The file's structure is nested too deeply to be read; "
                                    "it may be damaged or hostile. Save a new copy and upload "
                                    "that.", error_code="corrupt")
        except Exception as e:  # a library bug must not take the child down: report it
            if isinstance(e.__context__, MemoryError) or isinstance(e.__cause__, MemoryError):
                conn.send(_too_much_memory(memory_bytes))
                continue
            outcome = Outcome(error=f"The file could not be read ({type(e).__name__}); it may "
                                    "be damaged. Save a new copy and upload that.",
                              error_code="corrupt")
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send(_too_much_memory(memory_bytes))


def _thumbnail(path: str, log_fields: dict[str, Any]) -> tuple[Thumbnail | None, bool]:
    """The first page of a PDF drawn small, and whether the child should be replaced (its
    heap exhausted); a page PDFium cannot draw costs only the thumbnail."""
    from kb.extract.thumbnail import render_first_page

    with logs.bound(**log_fields):
        try:
            return render_first_page(Path(path)), False
        except MemoryError:
            log.warning("no thumbnail: drawing the first page needed too much memory")
            return None, True
        except Exception as e:  # PDFium's errors, and any other: the text is what matters
            log.warning("no thumbnail: the first page could not be drawn (%s: %s)",
                        type(e).__name__, e)
            return None, False


# Signals that come from outside (an operator, a service manager, the kernel's
# out-of-memory killer), not from a fault in reading the file: the job is tried again.
_OUTSIDE = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                      signal.SIGQUIT})


def died(exitcode: int | None) -> Outcome:
    """The outcome of an extraction child that died without answering, named after what
    ended it: a signal from outside is retried; a crash is the file's failure."""
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        if number in _OUTSIDE:
            return Outcome(
                error=f"Reading the file was stopped from outside kb (killed by signal {number}, "
                      f"{name}) before it finished; it is being tried again.",
                error_code="interrupted", retry=True)
        return Outcome(
            error=f"Reading the file crashed the reader (signal {number}, {name}); the file may "
                  "be damaged. Save a new copy and upload that.", error_code="crashed")
    return Outcome(
        error=f"The reader stopped unexpectedly (exit code {exitcode}) while reading the file; "
              "it may be damaged. Save a new copy and upload that.", error_code="crashed")


def _too_much_memory(memory_bytes: int) -> Outcome:
    return Outcome(
        error=f"Reading the file needed more than {memory_bytes // (1024 * 1024)} MB of memory; "
              "it may be a compressed bomb or damaged. Save a new copy and upload that.",
        error_code="too-much-memory")


class Sandbox:
    """One extraction child process, used by one thread at a time."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def _start(self) -> Connection:
        parent, child = _CTX.Pipe()
        proc = _CTX.Process(target=_child, name="kb-extract", daemon=True,
                            args=(child, self.limits.memory_bytes, logs.settings()))
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        return parent

    def _kill(self) -> None:
        end_child(self._proc, self._conn)
        self._proc, self._conn = None, None

    def run(self, path: str, mime: str) -> Outcome:
        """Extract one file within the limits; always returns an Outcome. A PDF read
        without error gets its first-page thumbnail too, drawn in a second task, so that
        a renderer that fails on the file costs the thumbnail, never the text."""
        with self._lock:
            outcome = self._read(EXTRACT, path, mime)
            if mime == PDF and outcome.error is None and not outcome.retry:
                answer, failure = self._ask((THUMBNAIL, path, mime, 0, logs.fields()))
                if failure is not None:
                    log.warning("no thumbnail for %s: %s", path, failure.error)
                else:
                    thumbnail, exhausted = answer
                    if exhausted:
                        self._kill()
                    outcome = replace(outcome, thumbnail=thumbnail)
            return outcome

    def warm(self) -> None:
        """Start the child now, if it is not running, without waiting for it: the next
        task then finds it ready (the upload page does this while a person picks a file)."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._kill()
                self._start()

    def preview(self, path: str, mime: str) -> Outcome:
        """Read what a file says about itself (title, dates, language) within the limits,
        for the upload form; always returns an Outcome."""
        with self._lock:
            return self._read(PREVIEW, path, mime)

    def _read(self, kind: str, path: str, mime: str) -> Outcome:
        answer, failure = self._ask((kind, path, mime, self.limits.max_chars, logs.fields()))
        if failure is not None:
            return failure
        outcome: Outcome = answer
        if outcome.error_code == "too-much-memory":
            self._kill()  # a fresh child after an exhausted heap
        return outcome

    def _ask(self, task: tuple[Any, ...]) -> tuple[Any, Outcome | None]:
        """Send one task to the child (started if need be) and wait for its answer:
        (answer, None), or (None, why not) when the child died or overran its time (it is
        then replaced). The caller holds the lock."""
        path = task[1]
        conn = self._conn if self._proc is not None and self._proc.is_alive() else None
        if conn is None:
            self._kill()
            conn = self._start()
        try:
            conn.send(task)
            if conn.poll(self.limits.seconds):
                return conn.recv(), None
        except (EOFError, OSError, BrokenPipeError):
            exitcode = None
            if self._proc is not None:
                self._proc.join(timeout=5)  # reaped, so that its exit code is known
                exitcode = self._proc.exitcode
            self._kill()
            log.warning("extraction child died (exit code %s) on %s", exitcode, path)
            return None, died(exitcode)
        self._kill()
        return None, Outcome(
            error=f"Reading the file took longer than {self.limits.seconds:g} seconds, the "
                  "limit; it may be damaged or hostile. Save a new copy and upload that.",
            error_code="timed-out")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._proc is not None and self._proc.is_alive():
                try:
                    self._conn.send(None)
                    self._proc.join(timeout=2)
                except OSError:
                    pass
            self._kill()


def limits_from(config: Mapping[str, Any]) -> Limits:
    """The limits set in the app's configuration."""
    return Limits(seconds=float(config["EXTRACT_TIMEOUT"]),
                  memory_bytes=int(config["EXTRACT_MEMORY_MB"]) * 1024 * 1024,
                  max_chars=int(config["EXTRACT_MAX_CHARS"]))


_shared: dict[Limits, Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(limits: Limits) -> Sandbox:
    """The process's sandbox for these limits (its child ends with the process)."""
    with _shared_lock:
        box = _shared.get(limits)
        if box is None:
            box = _shared[limits] = Sandbox(limits)
        return box


def end_child(proc: BaseProcess | None, conn: Connection | None) -> None:
    """Kill a child process still alive, reap it and close its pipe (either may be None)."""
    if proc is not None:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
        proc.close()
    if conn is not None:
        conn.close()
