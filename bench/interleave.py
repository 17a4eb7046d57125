"""Before/after: run one benchmark from two checkouts of kb in turn and print medians.

Each checkout runs with its own virtual environment (``CHECKOUT/.venv/bin/python``) on its
own copy of the collection (made once from ``--workdir`` so neither side's worker or index
upgrade touches the other's), alternately before, after, before, after, ... so that a
change of the machine's load falls on both sides alike. For every ``LABEL: kb latency``
line the benchmark prints, the median over the runs of p50 and p95 on each side, the
runs' own spread (max - min, as % of the median), and the change after/before.

    .venv/bin/python bench/interleave.py --before ../kb-before --after . \
        --workdir /tmp/kb-search --runs 3 -- bench/search.py --docs 15000

(the benchmark's own --workdir is added by this script; build the collection once first
with the benchmark itself: ``.venv/bin/python bench/search.py --workdir /tmp/kb-search``)
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

LATENCY = re.compile(r"^(?P<label>[\w ]+): kb latency\s*: p50 (?P<p50>[\d.]+) ms, "
                     r"p95 (?P<p95>[\d.]+) ms")


def run_once(checkout: Path, workdir: Path, bench: list[str]) -> dict[str, tuple[float, float]]:
    """One run of the benchmark from ``checkout``: {label: (p50, p95)}."""
    python = checkout / ".venv" / "bin" / "python"
    script, *rest = bench
    cmd = [str(python), str(checkout / script), *rest, "--workdir", str(workdir)]
    proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {proc.returncode}")
    found = {m["label"].strip(): (float(m["p50"]), float(m["p95"]))
             for m in map(LATENCY.match, proc.stdout.splitlines()) if m}
    if not found:
        raise SystemExit(f"{script} printed no 'LABEL: kb latency' line")
    return found


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) * 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout measured first")
    parser.add_argument("--after", type=Path, required=True, help="checkout measured second")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="a benchmark work folder holding the built collection")
    parser.add_argument("--runs", type=int, default=3, help="runs on each side (default 3)")
    parser.add_argument("bench", nargs=argparse.REMAINDER,
                        help="-- then the benchmark script (relative to a checkout) and its "
                             "arguments")
    args = parser.parse_args(argv)
    bench = [a for a in args.bench if a != "--"]
    if not bench:
        parser.error("name the benchmark after --, e.g. -- bench/search.py --docs 15000")
    if not args.workdir.is_dir():
        parser.error(f"--workdir {args.workdir} does not exist: build the collection first")
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    copies = {}
    for side in sides:
        copy = args.workdir.parent / f"{args.workdir.name}-{side}"
        if not copy.exists():
            shutil.copytree(args.workdir, copy, symlinks=True)
        copies[side] = copy
    results: dict[str, list[dict[str, tuple[float, float]]]] = {s: [] for s in sides}
    for i in range(args.runs):
        for side, checkout in sides.items():
            print(f"--- run {i + 1}/{args.runs}: {side} ({checkout})", flush=True)
            results[side].append(run_once(checkout, copies[side], bench))
    print("=" * 78)
    print(f"interleaved {args.runs} x before/after of {' '.join(bench)}")
    print("-" * 78)
    for label in results["before"][0]:
        line = [f"{label:>8}:"]
        medians = {}
        for side in sides:
            p50s = [r[label][0] for r in results[side]]
            p95s = [r[label][1] for r in results[side]]
            medians[side] = statistics.median(p95s)
            line.append(f"{side} p50 {statistics.median(p50s):.1f} / p95 "
                        f"{statistics.median(p95s):.1f} ms (p95 spread "
                        f"{spread(p95s):.0f}%)")
        change = (medians["after"] / medians["before"] - 1) * 100
        print(" ".join(line) + f"; p95 after/before {change:+.1f}%")
    print("=" * 78)
    return 0


if __name__ == "__main__":
    sys.exit(main())
