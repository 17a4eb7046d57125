"""Backup benchmark: `kb backup` and `kb restore` of the UN General Debate speeches.

On an instance of the 1,555 speeches imported with `kb import` (built here, or reused from
bench/ingest.py's --workdir): the time and size of a first `kb backup`, of a second one into
the same folder (which copies only new files: none), and of `kb restore` into a new
instance, searchable when it returns (its index rebuilt from the database). Baseline in the
same run: a plain copy of the instance and upload folders (what an operator would do with
the server stopped), which is neither consistent while the server runs nor checked.

    .venv/bin/python bench/backup.py [--limit N] [--workdir DIR]
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import _common as c


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = c.base_parser(__doc__.split("\n\n")[0])
    args = parser.parse_args()
    c.require_corpus()
    c.clean_environment()
    with c.workdir(args.workdir) as work:
        if not c.has_instance(work):
            imported = c.build_instance(work, args.limit)
            speeches = imported.speeches
        else:
            speeches = c.read_manifest(work / c.CORPUS_DIR)
        env = c.instance_env(work)
        dest = work / "backup"
        restored = work / "restored"
        for old in (dest, restored, work / "plain-copy"):
            shutil.rmtree(old, ignore_errors=True)

        os.sync()
        first = c.timed_kb(["backup", str(dest)], env, work, work / "backup-1")
        size = folder_bytes(dest)
        second = c.timed_kb(["backup", str(dest)], env, work, work / "backup-2")
        last_second = second.stdout.strip().splitlines()[-1]
        if "(0 new" not in last_second:
            c.fail(f"the second backup copied files: {last_second}")

        target_env = {**env, "KB_INSTANCE_DIR": str(restored / "instance"),
                      "KB_UPLOAD_DIR": str(restored / "uploads")}
        restore = c.timed_kb(["restore", str(dest)], target_env, work, work / "restore")
        last_restore = restore.stdout.strip().splitlines()[-1]
        expected = f"{len(speeches):,} documents, {len(speeches):,} stored files, " \
                   f"{len(speeches):,} indexed"
        if expected not in last_restore:
            c.fail(f"kb restore ended with {last_restore!r}, expected {expected!r}")
        check = c.run_kb(["doctor"], target_env, work) if _has_doctor(env, work) else ""

        start = time.perf_counter()
        plain = work / "plain-copy"
        shutil.copytree(work / c.INSTANCE_DIR, plain / "instance")
        shutil.copytree(work / c.UPLOAD_DIR, plain / "uploads")
        os.sync()
        plain_s = time.perf_counter() - start

        c.print_block("bench/backup.py", [
            ("machine", c.machine_line()),
            ("code", c.code_line()),
            ("corpus", f"{len(speeches)} speeches, instance built with `kb import`"),
            ("backup: first", f"{first.seconds:.1f} s, {size / 1e6:.1f} MB in "
                              f"{count_files(dest)} files ({last_line(first.stdout)})"),
            ("backup: second", f"{second.seconds:.1f} s, incremental: {last_second}"),
            ("restore", f"{restore.seconds:.1f} s, searchable on return: {last_restore}"),
            ("restore check", check.strip().splitlines()[-1] if check.strip() else
             "kb doctor not available"),
            ("baseline: plain copy", f"{plain_s:.1f} s for instance/ and uploads/ "
                                     f"({folder_bytes(plain) / 1e6:.1f} MB), server stopped, "
                                     "nothing checked"),
            ("backup/plain copy", f"{first.seconds / max(plain_s, 1e-9):.1f}x the time"),
        ])


def last_line(out: str) -> str:
    lines = out.strip().splitlines()
    return lines[-1] if lines else ""


def _has_doctor(env: dict[str, str], work: Path) -> bool:
    import subprocess

    proc = subprocess.run([str(c.kb_exe()), "--help"], env=env, cwd=work,
                          capture_output=True, text=True, check=False)
    return " doctor " in proc.stdout


if __name__ == "__main__":
    sys.exit(main())
