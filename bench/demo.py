"""How long `make demo` takes on this machine, phase by phase, against the local stack's targets.

    .venv/bin/python bench/demo.py [--products 120001] [--no-save]

Runs `make demo` as a user would from an installed checkout (a child process: interpreter start,
imports, the stack, seeding, the export over HTTP, downloads and checks, shutdown), times it from
spawn to exit, and reads the demo's own phase table from its output. Prints the figures with their
targets and merges them into bench/results.json as ``local_demo`` plus the three headline keys.
Fails if the demo does (a wrong row count is not a speed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import merge_results, print_table  # noqa: E402

# The demo's phase names (local/demo.py) → the results' keys, with the issue's targets in seconds.
PHASES = {
    "seed the catalogue": ("demo_seed_seconds", 60.0),
    "export (POST to success)": ("demo_export_seconds", 60.0),
}
TOTAL_KEY, TOTAL_TARGET = "demo_total_seconds", 180.0
PHASE_LINE = re.compile(r"^(?P<phase>[a-z][^\n]*?)\s{2,}(?P<seconds>\d+\.\d)$")


def run_demo(products: int) -> tuple[float, dict[str, float], str]:
    """(wall seconds, {phase: seconds}, output) of one `make demo` run."""
    started = time.perf_counter()
    finished = subprocess.run(
        ["make", "--no-print-directory", "demo", f"ARGS=--products {products}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    output = finished.stdout + finished.stderr
    if finished.returncode != 0:
        raise SystemExit(f"make demo failed ({finished.returncode}):\n{output[-4000:]}")
    phases = {
        match["phase"]: float(match["seconds"])
        for match in map(PHASE_LINE.match, finished.stdout.splitlines())
        if match
    }
    missing = [phase for phase in PHASES if phase not in phases]
    if missing:
        raise SystemExit(f"the demo printed no time for {missing}:\n{finished.stdout[-4000:]}")
    return wall, phases, finished.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=120_001)
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    measured_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    wall, phases, output = run_demo(args.products)
    load_after = os.getloadavg()[0]
    print(output[output.rfind("\nfile ") + 1 :].rstrip())  # the demo's own files and phases tables

    def verdict(seconds: float, target: float) -> str:
        return f"target ≤ {target:.0f} s: {'met' if seconds <= target else 'MISSED'}"

    rows = [
        (phase, f"{phases[phase]:.1f} s", verdict(phases[phase], target))
        for phase, (_, target) in PHASES.items()
    ]
    rows += [(phase, f"{seconds:.1f} s", "") for phase, seconds in phases.items() if phase not in PHASES]
    rows.append(("make demo, spawn to exit", f"{wall:.1f} s", verdict(wall, TOTAL_TARGET)))
    rows.append(("load average (1 min)", f"{load_before:.1f} -> {load_after:.1f}", "before -> after"))
    print_table(f"make demo, {args.products:,} products", rows)
    if not args.no_save:
        keys = {key: phases[phase] for phase, (key, _) in PHASES.items()}
        merge_results(
            {
                **keys,
                TOTAL_KEY: round(wall, 1),
                "local_demo": {
                    "products": args.products,
                    "phases": phases,
                    "measured_at": measured_at,
                    # Other work on this shared machine slows the demo: the 1-minute load average
                    # before and after the run.
                    "load_average_before": round(load_before, 2),
                    "load_average_after": round(load_after, 2),
                },
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
