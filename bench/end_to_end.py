"""End to end on the local stack: the export workflow against the script a user would write instead.

    .venv/bin/python bench/end_to_end.py [--sizes 10000,120001,500000] [--quick] [--repeats N]
                                         [--map-concurrency N] [--results bench/results.json]

For each catalogue size, on a fresh local stack (local/server.py: dynalite, moto's S3 server, the
template's state machine in moto's ASL interpreter with the real handlers, the API over HTTP):

1. seeds the catalogue (local/seed.py; a few bundles too, which neither side exports);
2. the workflow: POST /pcm/products/export over HTTP, polls the job until ``success``; products/s
   from POST to success, and the time by phase from the execution's history in moto
   (queue = slot, plan, parts = the Map, finalize), each part's duration, the CPU seconds of this
   process (API, Step Functions, every Lambda, S3) and of dynalite, and those of the planner and
   the part writers alone (measured around the real handlers);
3. the script (bench/export_script.py) in its own process against the same DynamoDB and S3;
4. checks both exported every standard product exactly once by count.

Each side runs twice per size below 200,000 products, in alternating order, once above; the best
run of each side counts.

The ratio workflow seconds / script seconds goes to bench/results.json as
``workflow_vs_script_<size>`` (10k, 120k, 500k for the default sizes), with the per-size figures
(and the same ratio in CPU seconds) under ``end_to_end``; only those keys are replaced, other
benchmarks' keys are kept. Both sides run warm (the handlers are imported before the POST; the
script's time starts after its imports).
The machine's load average is recorded around every measurement: other work on the machine slows
both sides, which is why only ratios measured in one run are compared. Prints a table; asserts
only that both sides exported every product.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.results import RESULTS, load_results, merge_results  # noqa: E402
from local.demo import Client  # noqa: E402
from local.seed import demo_product, seed  # noqa: E402
from local.server import LocalService, local_service  # noqa: E402
from product_export.adapters.dynamo_json import encode_item  # noqa: E402
from product_export.adapters.products_table import PLANNING_INDEX_ATTRIBUTES  # noqa: E402
from product_export.catalogue import read_ahead as read_ahead_module  # noqa: E402
from product_export.catalogue.models import SHARD_COUNT, ProductData  # noqa: E402
from product_export.catalogue.products import new_item  # noqa: E402
from product_export.export import service as export_service  # noqa: E402

BENCH = Path(__file__).resolve().parent
DEFAULT_SIZES = (10_000, 120_001, 500_000)
QUICK_SIZES = (2_000, 5_001)
POLL_SECONDS = 0.1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TIMEOUT_SECONDS = 3600


def size_label(products: int) -> str:
    """10000 -> 10k, 120001 -> 120k, 500000 -> 500k, 2000000 -> 2m."""
    return f"{round(products / 1000)}k" if products < 1_000_000 else f"{products / 1_000_000:g}m"


# --- where the CPU goes ----------------------------------------------------------------------------


def _dynalite_pid() -> int | None:
    """The dynalite child of this process (local/dynamodb_server.py starts it)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and b"dynalite" in cmdline:
            return int(entry.name)
    return None


def _process_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Meter:
    """Wall time, this process's CPU, dynalite's CPU and the load average over a block."""

    def __init__(self, dynalite: int | None) -> None:
        self.dynalite = dynalite

    def __enter__(self) -> Meter:
        self.load_before = os.getloadavg()[0]
        self.started = time.perf_counter()
        self.cpu = resource.getrusage(resource.RUSAGE_SELF)
        self.dynalite_cpu = _process_cpu(self.dynalite)
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.python_cpu = (usage.ru_utime - self.cpu.ru_utime) + (usage.ru_stime - self.cpu.ru_stime)
        self.dynalite_seconds = _process_cpu(self.dynalite) - self.dynalite_cpu
        self.load_after = os.getloadavg()[0]

    def figures(self) -> dict[str, float]:
        return {
            "cpu_seconds_this_process": round(self.python_cpu, 2),
            "cpu_seconds_dynalite": round(self.dynalite_seconds, 2),
            "load_average_before": round(self.load_before, 2),
            "load_average_after": round(self.load_after, 2),
        }


# --- the workflow ----------------------------------------------------------------------------------


def _event_name(event: dict[str, Any]) -> str:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict) and "name" in value:
            return str(value["name"])
    return ""


def phases_from_history(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds per phase from an execution's history events. Planning runs from PlanExport to the
    end of CombinePlan (the shard planners between); the parts run in a Distributed Map, whose
    child executions keep their own histories, so each part's duration comes from ``StepClock``."""

    def at(kind: str, name: str = "", last: bool = False) -> float:
        found = [e for e in events if e["type"] == kind and (not name or _event_name(e) == name)]
        if not found:
            raise ValueError(f"no {kind} {name} event in the execution history")
        return float(found[-1 if last else 0]["timestamp"].timestamp())

    started = at("ExecutionStarted")
    plan_in, plan_out = at("TaskStateEntered", "PlanExport"), at("TaskStateExited", "CombinePlan", last=True)
    map_in, map_out = at("MapStateEntered", "WriteParts"), at("MapStateExited", "WriteParts")
    final_in = at("TaskStateEntered", "FinalizeExport")
    final_out = at("TaskStateExited", "FinalizeExport", last=True)
    return {
        "execution_started": started,
        "finished": final_out,
        "phases": {
            "queue": plan_in - started,
            "plan": plan_out - plan_in,
            "parts": map_out - map_in,
            "finalize": final_out - final_in,
        },
    }


def _execution_arn(service: LocalService, job_id: str) -> str:
    client = service.stack.client("stepfunctions")
    for execution in client.list_executions(stateMachineArn=service.stack.state_machine_arn)["executions"]:
        if execution["name"] == job_id:
            return str(execution["executionArn"])
    raise LookupError(f"no execution named {job_id}")


class StepClock:
    """CPU seconds of the planner and the part writers, measured around the real handlers.

    A part writer and each planning step run on one thread, so the thread's CPU time is the step's
    own (not dynalite's, not the S3 server's). A shard-group planner reads its shards, and
    CombinePlan fetches the group files, on threads of a pool (``export/service.py``) that the
    handler's thread clock does not see: while measuring, the service's pools charge each task's CPU
    time to the step that submitted it. Dynalite's CPU while planning is taken from the start of
    PlanExport to the end of CombinePlan.
    """

    def __init__(self, service: LocalService, dynalite: int | None) -> None:
        self.dispatcher = service.stack.dispatcher
        self.dynalite = dynalite
        self.plan_cpu = 0.0  # every planning step: PlanExport, the shard-group planners, CombinePlan
        self.combine_cpu = 0.0  # CombinePlan alone (its work grows with the shards' remainders)
        self.plan_dynalite_cpu = 0.0
        self.part_cpu: list[float] = []
        self.part_seconds: list[float] = []
        self._lock = threading.Lock()
        self._dynalite_at_plan = 0.0
        self._step = threading.local()  # the step a handler thread is running (and its part's token)
        self._part_extra: dict[int, float] = {}  # a part's CPU on its read-ahead threads, by token
        pool = self._counting_pool()
        self._pools = [
            mock.patch.object(export_service, "ThreadPoolExecutor", pool),
            mock.patch.object(read_ahead_module, "ThreadPoolExecutor", pool),
        ]

    def _charge(self, step: str | None, seconds: float, token: int | None = None) -> None:
        if step is None:
            return
        if step == "WritePartFunction" and token is not None:
            with self._lock:
                self._part_extra[token] = self._part_extra.get(token, 0.0) + seconds
            return
        with self._lock:
            self.plan_cpu += seconds
            if step == "CombinePlanFunction":
                self.combine_cpu += seconds

    def _counting_pool(self) -> type[ThreadPoolExecutor]:
        clock = self

        class CountingPool(ThreadPoolExecutor):
            def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
                step = getattr(clock._step, "name", None)  # read on the submitting (handler) thread
                token = getattr(clock._step, "token", None)

                def timed(*inner_args: Any, **inner_kwargs: Any) -> Any:
                    before = time.thread_time()
                    try:
                        return fn(*inner_args, **inner_kwargs)
                    finally:
                        clock._charge(step, time.thread_time() - before, token)

                return super().submit(timed, *args, **kwargs)

        return CountingPool

    def __enter__(self) -> StepClock:
        def planning(logical_id: str) -> Any:
            def step(event: Any, context: Any, call_real: Any) -> Any:
                if logical_id == "PlanExportFunction":
                    self._dynalite_at_plan = _process_cpu(self.dynalite)
                before = time.thread_time()
                self._step.name = logical_id
                try:
                    return call_real(event)
                finally:
                    self._step.name = None
                    self._charge(logical_id, time.thread_time() - before)
                    if logical_id == "CombinePlanFunction":
                        self.plan_dynalite_cpu += _process_cpu(self.dynalite) - self._dynalite_at_plan

            return step

        def part(event: Any, context: Any, call_real: Any) -> Any:
            # A part spanning several shards reads its ranges on read-ahead threads
            # (catalogue/read_ahead.py): their CPU is the part's too.
            before, started = time.thread_time(), time.monotonic()
            token = id(event)
            self._step.name, self._step.token = "WritePartFunction", token
            try:
                return call_real(event)
            finally:
                self._step.name = self._step.token = None
                with self._lock:
                    extra = self._part_extra.pop(token, 0.0)
                    self.part_cpu.append(time.thread_time() - before + extra)
                    self.part_seconds.append(time.monotonic() - started)

        for logical_id in ("PlanExportFunction", "PlanShardGroupFunction", "CombinePlanFunction"):
            self.dispatcher.intercept(logical_id, planning(logical_id))
        self.dispatcher.intercept("WritePartFunction", part)
        for patch in self._pools:
            patch.start()
        return self

    def __exit__(self, *_: object) -> None:
        for patch in self._pools:
            patch.stop()
        self.dispatcher.clear_intercepts()


def run_workflow(
    service: LocalService, client: Client, products: int, dynalite: int | None
) -> dict[str, Any]:
    with Meter(dynalite) as meter, StepClock(service, dynalite) as steps:
        posted = time.time()
        job = client.call("POST", "/pcm/products/export")["data"]
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while job["attributes"]["status"] not in ("success", "failed", "cancelled"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"export {job['id']} still {job['attributes']['status']}")
            time.sleep(POLL_SECONDS)
            job = client.call("GET", f"/pcm/jobs/{job['id']}")["data"]
        seen = time.time()
    if job["attributes"]["status"] != "success":
        errors = client.call("GET", f"/pcm/jobs/{job['id']}/errors")
        raise RuntimeError(f"export {job['id']} {job['attributes']['status']}: {errors}")
    exported = int(job["meta"]["products"])
    if exported != products:
        raise RuntimeError(f"the workflow exported {exported} products, the catalogue has {products}")
    # The job reads success inside FinalizeExport; its history is complete once the execution ends.
    execution = _execution_arn(service, job["id"])
    service.stack.wait_for_execution(execution, timeout=60)
    sfn = service.stack.client("stepfunctions")
    events = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
        for event in page["events"]
    ]
    timing = phases_from_history(events)
    phases = timing["phases"]
    phases["start"] = timing["execution_started"] - posted  # POST handled, execution started
    seconds = seen - posted
    part_seconds = sorted(steps.part_seconds, reverse=True)
    return {
        "seconds": round(seconds, 2),
        "products_per_second": round(products / seconds),
        "phases": {name: round(value, 2) for name, value in phases.items()},
        "planner_share": round(phases["plan"] / seconds, 3),
        "parts": len(part_seconds),
        "part_seconds": [round(value, 2) for value in part_seconds],
        # How many parts ran at once on average: summed part time over the Map's wall time.
        "parts_in_parallel": round(sum(part_seconds) / phases["parts"], 2) if phases["parts"] else 0.0,
        "bytes": sum(int(part["bytes"]) for part in job["meta"].get("parts", [])) or None,
        # Per-product CPU cost of the two Lambda steps on this machine (the scaling model's input).
        "planner_cpu_us_per_product": round(1e6 * steps.plan_cpu / products, 2),
        "combine_cpu_us_per_product": round(1e6 * steps.combine_cpu / products, 2),  # part of the above
        "writer_cpu_us_per_product": round(1e6 * sum(steps.part_cpu) / products, 2),
        "state_transitions": sum(1 for event in events if event["type"].endswith("StateEntered")),
        "cpu_seconds_planner": round(steps.plan_cpu, 2),
        "cpu_seconds_combine": round(steps.combine_cpu, 2),
        "cpu_seconds_dynalite_while_planning": round(steps.plan_dynalite_cpu, 2),
        "cpu_seconds_part_writers": round(sum(steps.part_cpu), 2),
    } | meter.figures()


# --- the script ------------------------------------------------------------------------------------


def run_script(service: LocalService, products: int, part_size: int, dynalite: int | None) -> dict[str, Any]:
    command = [
        sys.executable,
        str(BENCH / "export_script.py"),
        "--table",
        service.stack.refs["ProductsTable"],
        "--store",
        service.store.store_id,
        "--bucket",
        service.stack.refs["PartsBucket"],
        "--prefix",
        f"script/{time.time_ns()}/",
        "--rows-per-file",
        str(part_size),
    ]
    with Meter(dynalite) as meter:
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"the script failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rows"] != products:
        raise RuntimeError(f"the script exported {result['rows']} products, the catalogue has {products}")
    seconds = float(result["seconds"])
    figures = meter.figures()
    figures["cpu_seconds_this_process"] = figures.pop("cpu_seconds_this_process")  # the S3 server's share
    return {
        "seconds": round(seconds, 2),
        "process_seconds": round(meter.seconds, 2),  # with interpreter start and imports
        "products_per_second": round(products / seconds),
        "files": result["files"],
        "bytes": result["bytes"],
        "cpu_seconds_script": round(float(result["cpu_seconds"]), 2),
    } | figures


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":  # about one byte per two significant digits, plus one
        return len(raw.strip("-").lstrip("0").replace(".", "")) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(key.encode()) + _value_bytes(inner) for key, inner in raw.items())
    if kind == "L":
        return 3 + sum(1 + _value_bytes(inner) for inner in raw)
    return sum(len(str(member).encode()) for member in raw)  # sets, binary


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it for read units: attribute names plus values (UTF-8),
    numbers about a byte per two digits, 3 bytes per map or list plus 1 per element."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _seeded_items(store_id: str, sample: int) -> Iterator[dict[str, Any]]:
    """local/seed.py's first ``sample`` products as the table stores them (typed items)."""
    for number in range(1, sample + 1):
        data = ProductData.model_validate({"type": "product", "attributes": demo_product(number)})
        yield encode_item(new_item(store_id, data))


def catalogue_item_bytes(store_id: str, sample: int = 1000) -> float:
    """The average stored size of local/seed.py's products (the model's item size input)."""
    return sum(dynamodb_item_bytes(item) for item in _seeded_items(store_id, sample)) / sample


def planning_index_item_bytes(store_id: str, sample: int = 1000) -> float:
    """The average size of the same products' entries in the planning index (template.yaml plan-keys):
    each item projected to ``PLANNING_INDEX_ATTRIBUTES``, what a Query of the index reads and pays for."""
    return (
        sum(
            dynamodb_item_bytes(
                {name: value for name, value in item.items() if name in PLANNING_INDEX_ATTRIBUTES}
            )
            for item in _seeded_items(store_id, sample)
        )
        / sample
    )


# --- one size --------------------------------------------------------------------------------------


def warm_handlers(service: LocalService) -> None:
    """Import every function's handler, as a warm Lambda has (the script is timed after its imports)."""
    for logical_id in service.stack.dispatcher.functions:
        service.stack.dispatcher.handler(logical_id)


def measure(products: int, *, part_size: int, map_concurrency: int | None, repeats: int) -> dict[str, Any]:
    parameters = {"LogLevel": "WARNING", "PartSize": str(part_size)}
    if map_concurrency is not None:
        parameters["MapConcurrency"] = str(map_concurrency)
    with local_service(port=0, parameters=parameters) as service:
        dynalite = _dynalite_pid()
        started = time.perf_counter()
        bundles = max(products // 10_000, 1)
        seed(service.store.store_id, products, bundles=bundles)
        seed_seconds = time.perf_counter() - started
        print(f"  seeded {products:,} products and {bundles} bundles in {seed_seconds:.0f} s", flush=True)
        warm_handlers(service)
        client = Client(service)
        workflows, scripts = [], []
        for attempt in range(repeats):
            # Alternate which side goes first, so a drift in the machine's load hits both alike.
            order = ("workflow", "script") if attempt % 2 == 0 else ("script", "workflow")
            for side in order:
                if side == "workflow":
                    workflows.append(run_workflow(service, client, products, dynalite))
                    figures = workflows[-1]
                else:
                    scripts.append(run_script(service, products, part_size, dynalite))
                    figures = scripts[-1]
                load = f"load {figures['load_average_before']:.1f} -> {figures['load_average_after']:.1f}"
                rate = f"{figures['products_per_second']:>7,} products/s"
                print(f"  {side:<8} {figures['seconds']:7.1f} s  {rate}  ({load})", flush=True)
        map_concurrency_used = int(service.stack.parameters["MapConcurrency"])
        item_bytes = catalogue_item_bytes(service.store.store_id)
        index_item_bytes = planning_index_item_bytes(service.store.store_id)
    # The best of the repeats on each side: the machine's other load only ever adds time.
    workflow = min(workflows, key=lambda run: float(run["seconds"]))
    script = min(scripts, key=lambda run: float(run["seconds"]))
    return {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "products": products,
        "part_size": part_size,
        "map_concurrency": map_concurrency_used,
        "seed_seconds": round(seed_seconds, 1),
        "item_bytes": round(item_bytes),
        "index_item_bytes": round(index_item_bytes),
        "shards": SHARD_COUNT,
        "workflow": workflow,
        "script": script,
        "workflow_vs_script": round(float(workflow["seconds"]) / float(script["seconds"]), 3),
        # The same comparison in CPU seconds (Python and dynalite), which the machine's other load
        # changes far less than wall time.
        "workflow_vs_script_cpu": round(
            (workflow["cpu_seconds_this_process"] + workflow["cpu_seconds_dynalite"])
            / (
                script["cpu_seconds_script"]
                + script["cpu_seconds_dynalite"]
                + script["cpu_seconds_this_process"]
            ),
            3,
        ),
        "repeats": repeats,
        "all_seconds": {
            "workflow": [run["seconds"] for run in workflows],
            "script": [run["seconds"] for run in scripts],
        },
    }


# --- results ---------------------------------------------------------------------------------------


def print_table(runs: list[dict[str, Any]]) -> None:
    print(
        f"\n{'products':>9} {'workflow s':>10} {'script s':>9} {'wf/script':>9} {'wf prod/s':>9} "
        f"{'sc prod/s':>9} {'queue':>6} {'plan':>6} {'parts':>6} {'final':>6} {'plan %':>6} {'||':>5}"
    )
    for run in runs:
        workflow, script, phases = run["workflow"], run["script"], run["workflow"]["phases"]
        print(
            f"{run['products']:>9,} {workflow['seconds']:>10.1f} {script['seconds']:>9.1f} "
            f"{run['workflow_vs_script']:>9.2f} {workflow['products_per_second']:>9,} "
            f"{script['products_per_second']:>9,} {phases['queue']:>6.1f} {phases['plan']:>6.1f} "
            f"{phases['parts']:>6.1f} {phases['finalize']:>6.1f} {100 * workflow['planner_share']:>5.0f}% "
            f"{workflow['parts_in_parallel']:>5.1f}"
        )
    print("(|| = parts running at once on average; phases from the execution history, seconds)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="comma-separated catalogue sizes (default 10000,120001,500000)")
    parser.add_argument("--quick", action="store_true", help=f"small sizes {QUICK_SIZES}, results not saved")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs of each side per size, in alternating order; the best counts (default 2, 1 from 200,000)",
    )
    parser.add_argument("--part-size", type=int, default=50_000)
    parser.add_argument("--map-concurrency", type=int, default=None, help="default: the template's")
    parser.add_argument("--results", default=None, help=f"JSON file to merge into (default {RESULTS})")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    else:
        sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    results_path = Path(args.results) if args.results else (None if args.quick else RESULTS)

    runs = []
    for products in sizes:
        print(f"{products:,} products", flush=True)
        runs.append(
            measure(
                products,
                part_size=args.part_size,
                map_concurrency=args.map_concurrency,
                repeats=max(args.repeats or (2 if products < 200_000 else 1), 1),
            )
        )
    print_table(runs)
    if results_path is not None:
        updates: dict[str, Any] = {
            f"workflow_vs_script_{size_label(run['products'])}": run["workflow_vs_script"] for run in runs
        }
        # Sizes measured by an earlier invocation (e.g. --sizes 500000 on its own) are kept.
        sizes = load_results(results_path).get("end_to_end", {}).get("sizes", {})
        sizes.update({size_label(run["products"]): run for run in runs})
        updates["end_to_end"] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "sizes": sizes,
        }
        merge_results(updates, results_path)
        print(f"results merged into {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
