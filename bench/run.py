"""`make bench`: every benchmark in one run, then the chart and one table of the results.

    .venv/bin/python bench/run.py [--quick]

Runs, each in its own process so that one's memory and threads do not colour the next: the part
writer's throughput (bench/writer.py) and memory (bench/memory.py), when present, then the end-to-end
comparison on the local stack (bench/end_to_end.py, several minutes at 500,000 products), the plan
step reading 16 shards at once against one at a time (bench/planner.py), every function's cold start
on the local runner (bench/cold_start.py), products created per second over HTTP against
`make serve`'s stack (bench/serve.py), the AWS scaling model drawn from the measurements
(bench/scaling_model.py) and `make demo` timed phase by phase (bench/demo.py). Each merges its own keys into
bench/results.json; bench/chart.py then draws bench/results.png and the
table below is printed from the file. ``--quick`` runs small sizes and saves nothing (a smoke test
of the suite, not a measurement).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.results import RESULTS, load_results, print_table  # noqa: E402

# (name, script, arguments for --quick); a script that is not there is skipped with a note.
SUITE = (
    ("part writer", "writer.py", ["--rows", "5000", "--rounds", "3", "--no-save"]),
    ("memory", "memory.py", ["--sizes", "2000,10000", "--no-save"]),
    ("end to end", "end_to_end.py", ["--quick"]),
    ("planner", "planner.py", ["--products", "5001", "--rounds", "1", "--no-save"]),
    ("cold starts", "cold_start.py", ["--rounds", "1", "--no-save"]),
    ("serve", "serve.py", ["--creates", "300", "--no-save"]),
    ("scaling model", "scaling_model.py", ["--no-save"]),
    ("make demo", "demo.py", ["--products", "5000", "--no-save"]),
)
TARGETS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "writer_ratio": ("≥ 0.50", lambda v: v >= 0.5),
    "memory_growth_mib": ("< 32 MiB from 10,000 to 200,000 products", lambda v: v < 32),
    "workflow_vs_script_120k": ("≤ 1.00 (not slower than the script)", lambda v: v <= 1.0),
    "workflow_vs_script_500k": ("< 1.00 (faster than the script)", lambda v: v < 1.0),
    "demo_seed_seconds": ("≤ 60 s (120,001 products)", lambda v: v <= 60),
    "demo_export_seconds": ("≤ 60 s (120,001 products)", lambda v: v <= 60),
    "demo_total_seconds": ("≤ 180 s", lambda v: v <= 180),
    "planner_index_vs_table": ("< 1.00 (planning from the slim index is faster)", lambda v: v < 1.0),
    "planner_groups_vs_1_reader": ("< 1.00 (reading the shards at once is faster)", lambda v: v < 1.0),
}


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for key in sorted(results):
        value = results[key]
        if isinstance(value, dict | list):
            continue
        target = TARGETS.get(key)
        note = f"target {target[0]}: {'met' if target[1](value) else 'MISSED'}" if target else ""
        rows.append((key, _value(value), note))
    for logical_id, milliseconds in sorted(results.get("init_duration_ms", {}).items()):
        rows.append((f"cold start {logical_id}", f"{milliseconds:,} ms", "median Init Duration (runner)"))
    sizes = results.get("end_to_end", {}).get("sizes", {})
    for label, run in sorted(sizes.items(), key=lambda entry: int(entry[1]["products"])):
        workflow, script = run["workflow"], run["script"]
        phases = workflow["phases"]
        rows.append(
            (
                f"end to end {label}: products/s",
                f"{workflow['products_per_second']:,} vs {script['products_per_second']:,}",
                f"workflow vs script; {workflow['seconds']:.1f} s vs {script['seconds']:.1f} s",
            )
        )
        # On the runner the Lambda steps run in worker processes of their own (older results: in
        # this process, so without the two worker keys).
        workflow_cpu = (
            workflow["cpu_seconds_this_process"]
            + workflow.get("cpu_seconds_workers", 0.0)
            + workflow.get("cpu_seconds_cold_starts", 0.0)
            + workflow["cpu_seconds_dynalite"]
        )
        script_cpu = (
            script["cpu_seconds_script"] + script["cpu_seconds_dynalite"] + script["cpu_seconds_this_process"]
        )
        rows.append(
            (
                f"end to end {label}: CPU seconds",
                f"{workflow_cpu:,.1f} vs {script_cpu:,.1f}",
                f"workflow vs script, Python, workers, dynalite; ratio {workflow_cpu / script_cpu:.2f}",
            )
        )
        rows.append(
            (
                f"end to end {label}: phases",
                f"plan {100 * workflow['planner_share']:.0f}%",
                f"queue {phases['queue']:.1f} s, plan {phases['plan']:.1f} s, parts {phases['parts']:.1f} s "
                f"({workflow['parts']} parts, {workflow['parts_in_parallel']:.1f} at once), "
                f"finalize {phases['finalize']:.1f} s",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, nothing saved")
    args = parser.parse_args(argv)
    failed = []
    for name, script, quick_arguments in SUITE:
        path = BENCH / script
        if not path.is_file():
            print(f"== {name}: {script} is not there, skipped", flush=True)
            continue
        print(f"== {name} ({script})", flush=True)
        command = [sys.executable, str(path), *(quick_arguments if args.quick else [])]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    if not args.quick:
        subprocess.run([sys.executable, str(BENCH / "chart.py")], check=False)
    print()
    print_table(f"Results ({RESULTS.relative_to(BENCH.parent)})", summary_rows(load_results()))
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
