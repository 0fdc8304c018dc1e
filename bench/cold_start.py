"""Cold starts on the local runner: every function's Init Duration, and what its imports spend it on.

    .venv/bin/python bench/cold_start.py [--rounds 5] [--no-save]

On the local stack (local_service, as `make serve` runs it), with the runner's own worker configs
(the function's python3.13, its layer as Lambda lays it out, only its own environment):

1. ``rounds`` times, a fresh LambdaRunner starts every function of template.yaml once, one after
   another (an empty event: the call may fail, the init it needed is what counts); the median of
   ``runner.init_durations()`` per function is its cold-start Init Duration, uncontended;
2. once, ``concurrency`` PlanShardGroupFunction workers start at the same time, as the PlanShards
   Map starts them: the Init Duration when the runner's cold starts share the 2 cores;
3. ``python3.13 -X importtime`` of each function's handler module with the function's sys.path
   (local/runner/layer.py ``function_sys_path``) and environment: the import time by top-level
   package, and the interpreter's own start (``-c pass``), which Init Duration does not include
   (bootstrap.py starts its clock once it runs).

Merges ``init_duration_ms`` (median per function) and ``cold_start`` (the rest) into
bench/results.json, with the load average around the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.results import merge_results, print_table  # noqa: E402
from local.lambdas import RunnerLambdas  # noqa: E402
from local.runner.runner import LambdaRunner  # noqa: E402
from local.runner.workers import FunctionConfig  # noqa: E402
from local.server import local_service  # noqa: E402

# Top-level packages by what they are, for the summary of where an init's imports go.
GROUPS = {
    "boto3, botocore, urllib3": ("boto3", "botocore", "urllib3", "s3transfer", "jmespath", "dateutil", "six"),
    "pydantic": ("pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection"),
    "aws_lambda_powertools": ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "jsonpath_ng"),
    "cryptography, jwt": ("cryptography", "jwt", "cffi", "_cffi_backend"),
    "product_export (the layer's code)": ("product_export",),
    "msgspec": ("msgspec",),
}
IMPORT_PROBE = (
    "import importlib, sys; sys.path[:] = [*sys.argv[1:], *sys.path[1:]]; importlib.import_module({!r})"
)


def cold_starts(configs: list[FunctionConfig], rounds: int, log_dir: Path) -> dict[str, list[float]]:
    """Every function started cold ``rounds`` times, one at a time, on fresh runners."""
    durations: dict[str, list[float]] = defaultdict(list)
    for number in range(rounds):
        with LambdaRunner(configs, log_dir=log_dir / f"round-{number}") as runner:
            for config in configs:
                runner.invoke_payload(config.logical_id, b"{}")
            for logical_id, times in runner.init_durations().items():
                durations[logical_id] += times
    return dict(durations)


def contended_cold_starts(config: FunctionConfig, workers: int, log_dir: Path) -> list[float]:
    """``workers`` cold starts of one function at the same time (the PlanShards Map's fan-out)."""
    with (
        LambdaRunner([config], log_dir=log_dir / "contended", concurrency=workers) as runner,
        ThreadPoolExecutor(workers) as pool,
    ):
        list(pool.map(lambda _: runner.invoke_payload(config.logical_id, b"{}"), range(workers)))
        return runner.init_durations()[config.logical_id]


def import_profile(config: FunctionConfig) -> dict[str, Any]:
    """``-X importtime`` of the function's handler module: milliseconds by top-level package."""
    module = config.environment["_HANDLER"].rpartition(".")[0]
    command = [config.python, "-X", "importtime", "-I", "-S", "-c", IMPORT_PROBE.format(module)]
    done = subprocess.run(
        [*command, *map(str, config.sys_path)],
        env=dict(config.environment),
        cwd=str(config.sys_path[0]),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-500:]}
    by_package: dict[str, float] = defaultdict(float)
    total_us = 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, _, name = (field.strip() for field in line.removeprefix("import time:").split("|"))
        by_package[name.split(".")[0]] += int(self_us) / 1000
        total_us += int(self_us)
    top = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    groups: dict[str, float] = defaultdict(float)
    for package, ms in by_package.items():
        group = next((name for name, members in GROUPS.items() if package in members), None)
        groups[group or ("standard library, other" if package not in {"app"} else "the handler module")] += ms
    return {
        "by_group_ms": {name: round(ms, 1) for name, ms in sorted(groups.items(), key=lambda g: -g[1])},
        "imports_ms": round(total_us / 1000, 1),
        "modules": sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1,
        "top_packages_ms": {name: round(ms, 1) for name, ms in top[:8]},
    }


def interpreter_start_ms(python: str, repeats: int = 5) -> float:
    """The bare interpreter's start and exit (``-I -S -c pass``), best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([python, "-I", "-S", "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    measured_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-start-") as temporary,
        local_service(port=0, parameters={"LogLevel": "WARNING"}, log_dir=Path(temporary) / "stack") as local,
    ):
        dispatcher = local.stack.dispatcher
        assert isinstance(dispatcher, RunnerLambdas)
        runner = dispatcher.runner
        configs = [function.config for function in runner.functions.values()]
        log_dir = Path(temporary)
        durations = cold_starts(configs, args.rounds, log_dir)
        planner = next(c for c in configs if c.logical_id == "PlanShardGroupFunction")
        contended = contended_cold_starts(planner, runner.concurrency, log_dir)
        profiles = {config.logical_id: import_profile(config) for config in configs}
        bare = interpreter_start_ms(configs[0].python)
    load_after = os.getloadavg()[0]
    medians = {lid: round(statistics.median(times)) for lid, times in sorted(durations.items())}
    rows = []
    for logical_id, median in medians.items():
        profile = profiles.get(logical_id, {})
        top = ", ".join(
            f"{name} {ms:.0f}" for name, ms in list(profile.get("top_packages_ms", {}).items())[:4]
        )
        rows.append((logical_id, f"{median} ms", f"imports {profile.get('imports_ms', '?')} ms: {top}"))
    rows.append(
        (
            f"PlanShardGroupFunction, {len(contended)} at once",
            f"{round(statistics.median(contended))} ms",
            "median Init Duration when the Map's planners start together",
        )
    )
    rows.append(("python3.13 -I -S -c pass", f"{bare} ms", "interpreter start, before Init Duration's clock"))
    rows.append(("load average (1 min)", f"{load_before:.1f} -> {load_after:.1f}", "before -> after"))
    print_table(f"Cold starts on the local runner, median of {args.rounds} per function", rows)
    if not args.no_save:
        merge_results(
            {
                "init_duration_ms": medians,
                "cold_start": {
                    "measured_at": measured_at,
                    "rounds": args.rounds,
                    "init_duration_ms_all": {
                        lid: [round(ms) for ms in times] for lid, times in durations.items()
                    },
                    "plan_shard_group_concurrent": {
                        "workers": len(contended),
                        "init_duration_ms_median": round(statistics.median(contended)),
                        "init_duration_ms_max": round(max(contended)),
                    },
                    "imports": profiles,
                    "interpreter_start_ms": bare,
                    "load_average_before": round(load_before, 2),
                    "load_average_after": round(load_after, 2),
                },
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
