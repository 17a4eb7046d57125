"""OCR of scanned PDFs with Debian's ocrmypdf and tesseract, run as a separate process."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from kb.config import DEFAULTS
from kb.errors import ExtractionError

NOT_INSTALLED = ("OCR is not installed on this server: scanned pages are found by their "
                 "metadata only.")
# Tesseract language names: "eng", "srp_latn", joined with "+".
_LANGUAGES = re.compile(r"[a-z]{3}(_[a-z]+)?(\+[a-z]{3}(_[a-z]+)?)*")
# ocrmypdf's documented exit code for an encrypted input.
_EXIT_ENCRYPTED = 8


def _check_languages(languages: str) -> list[str]:
    if not _LANGUAGES.fullmatch(languages):
        raise ValueError(f"OCR languages must look like 'eng+fra', not {languages!r}")
    return languages.split("+")


def _installed_languages(tesseract: str) -> set[str] | None:
    try:
        done = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    # The first line is a header ("List of available languages in ...").
    return {line.strip() for line in done.stdout.splitlines()[1:] if line.strip()}


def available(languages: str | None = None) -> tuple[bool, str]:
    """Whether ocrmypdf and tesseract with ``languages`` (default: the configured ones) are
    installed; when not, a notice for users saying so."""
    wanted = _check_languages(languages or str(DEFAULTS["OCR_LANGUAGES"]))
    tesseract = shutil.which("tesseract")
    if shutil.which("ocrmypdf") is None or tesseract is None:
        return False, NOT_INSTALLED
    installed = _installed_languages(tesseract)
    if installed is None:
        return False, NOT_INSTALLED
    missing = [lang for lang in wanted if lang not in installed]
    if missing:
        packages = ", ".join("tesseract-ocr-" + lang.replace("_", "-") for lang in missing)
        return False, (f"OCR is installed without the languages {'+'.join(missing)} (Debian "
                       f"packages {packages}): scanned pages are found by their metadata only.")
    return True, ""


def _reason(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:200] if lines else "no message"


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """Kill whatever is left of the process's session (its own session: ocrmypdf,
    Ghostscript, tesseract and any helper they left behind), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group may be gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _dies_with_us() -> None:
    """In the child before exec: killed if the thread that started it ends (a worker
    killed outright leaves no OCR running)."""
    from kb.services.queue import exit_with_parent

    exit_with_parent(signal.SIGKILL)


def _run(command: list[str], env: dict[str, str], timeout: float, log: Path) -> None:
    # Its messages go to a file, not a pipe: what ends the wait is ocrmypdf's own exit,
    # never the end of a pipe that a helper it started may hold open long after it failed.
    with log.open("wb") as err:
        try:
            # A session of its own, so that a timeout ends tesseract and Ghostscript as well.
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=err, env=env,
                                       start_new_session=True, preexec_fn=_dies_with_us)
        except OSError as e:
            raise ExtractionError(NOT_INSTALLED, code="no-text-layer") from e
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ExtractionError(
            f"Reading the scanned pages took longer than {timeout:g} seconds and was stopped.",
            code="timed-out") from e
    finally:
        _end_group(process)
    stderr = log.read_bytes()
    if process.returncode == _EXIT_ENCRYPTED:
        raise ExtractionError(
            "The PDF is password-protected; upload a copy without a password.", code="encrypted")
    if process.returncode < 0:
        number = -process.returncode
        name = signal.Signals(number).name if number in signal.valid_signals() else "unknown"
        raise ExtractionError(
            f"OCR was stopped from outside kb (killed by signal {number}, {name}) before it "
            "finished; it is being tried again.", code="interrupted")
    if process.returncode != 0:
        raise ExtractionError(
            f"The scanned pages could not be read by OCR ({_reason(stderr)}).", code="corrupt")


def ocr_pdf(src: Path, languages: str, timeout: float) -> Path:
    """Add a text layer to the pages of ``src`` that have none, into a new temporary PDF
    whose path is returned (the caller deletes it); ``src`` is only read.

    Raises ``ExtractionError`` with code ``timed-out`` past ``timeout`` seconds,
    ``encrypted`` or ``corrupt`` when ocrmypdf fails, ``interrupted`` when a signal from
    outside stopped it, ``no-text-layer`` when it is missing.
    """
    _check_languages(languages)
    fd, name = tempfile.mkstemp(prefix="kb-ocr-", suffix=".pdf")
    os.close(fd)
    out = Path(name)
    # ocrmypdf keeps page images in a work folder that a stopped run leaves behind: it gets
    # one of ours, removed whatever happens.
    work = tempfile.mkdtemp(prefix="kb-ocr-work-")
    # One core for tesseract too: the worker shares the machine with the web server.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "TMPDIR": work}
    command = [
        "ocrmypdf", "--skip-text", "--output-type", "pdf", "--jobs", "1", "-l", languages,
        "--optimize", "0", "--quiet", str(src.resolve()), str(out),
    ]
    try:
        _run(command, env, timeout, Path(work) / "ocrmypdf.log")
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
