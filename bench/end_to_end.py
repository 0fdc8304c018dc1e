"""End to end on the local stack: the export workflow against the script a user would write instead.

    .venv/bin/python bench/end_to_end.py [--sizes 10000,120001,500000] [--quick] [--repeats N]
                                         [--map-concurrency N] [--results bench/results.json]

For each catalogue size, on a fresh local stack (local/server.py: dynalite, moto's S3 server, the
template's state machine in moto's ASL interpreter, each function in worker processes of its own
under local/runner, the API over HTTP):

1. seeds the catalogue (local/seed.py; a few bundles too, which neither side exports);
2. warms the workers up: one small export of another store (``warm_up``), so every function on the
   export's path has a warm worker, as the script is timed after its imports;
3. the workflow: POST /pcm/products/export over HTTP, polls the job until ``success``; products/s
   from POST to success, and the time by phase from the execution's history in moto
   (queue = slot, plan, parts = the Map, finalize), each part's duration (its REPORT), the CPU
   seconds of this process (API, Step Functions, S3), of the Lambda workers and of dynalite, and
   those of the planner and the part writers alone (their worker processes' CPU over each call,
   ``WorkerClock``); the cold starts the run still needed (more workers at once than the warm-up
   used, or workers the runner reclaimed) are counted apart, with their Init Duration and CPU;
4. the script (bench/export_script.py) in its own process against the same DynamoDB and S3;
5. checks both exported every standard product exactly once by count.

Each side runs twice per size below 200,000 products, in alternating order, once above; the best
run of each side counts.

The ratio workflow seconds / script seconds goes to bench/results.json as
``workflow_vs_script_<size>`` (10k, 120k, 500k for the default sizes), with the per-size figures
(and the same ratio in CPU seconds) under ``end_to_end``; only those keys are replaced, other
benchmarks' keys are kept. Both sides run warm (the workers are started by the warm-up export
before the POST; the script's time starts after its imports).
The machine's load average is recorded around every measurement: other work on the machine slows
both sides, which is why only ratios measured in one run are compared. Prints a table; asserts
only that both sides exported every product.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.results import RESULTS, load_results, merge_results  # noqa: E402
from local.demo import Client  # noqa: E402
from local.lambdas import RunnerLambdas  # noqa: E402
from local.runner.runner import LambdaRunner  # noqa: E402
from local.runner.workers import Worker  # noqa: E402
from local.seed import demo_product, seed  # noqa: E402
from local.server import LocalService, local_service  # noqa: E402
from local.stores import create_store  # noqa: E402
from product_export.adapters.dynamo_json import encode_item  # noqa: E402
from product_export.adapters.products_table import PLANNING_INDEX_ATTRIBUTES  # noqa: E402
from product_export.catalogue.models import SHARD_COUNT, ProductData  # noqa: E402
from product_export.catalogue.products import new_item  # noqa: E402

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
    child executions keep their own histories, so each part's duration comes from ``WorkerClock``."""

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


@dataclass(frozen=True)
class Call:
    """One invocation as a worker process ran it."""

    logical_id: str
    cpu: float  # the worker process's CPU seconds over the call (utime + stime, every thread)
    duration: float  # the call's REPORT Duration, seconds
    wall: float  # from the request written to the worker to its answer read, seconds
    cold: bool  # the worker's first call (its init came just before)


class WorkerClock:
    """CPU and time of every Lambda call, taken from the runner's worker processes.

    Each function runs in worker processes of its own (local/runner), so a step's CPU is its
    worker's: ``/proc/<pid>/stat`` (utime + stime of all its threads, the read-ahead and planning
    pools included) read just before the request goes to the worker and just after its answer
    comes back, when the worker is otherwise idle. Its duration is the REPORT's. A cold start's
    Init Duration and the CPU its imports took (read when the worker reports ready) are kept apart:
    they are the runner's start-up cost, not the step's work. ``wall - duration`` of a call is the
    process hop (the request and answer through the pipes, JSON both ways). Dynalite's CPU while
    planning is taken from the start of PlanExport to the end of CombinePlan.
    """

    def __init__(self, dynalite: int | None) -> None:
        self.dynalite = dynalite
        self.calls: list[Call] = []
        self.inits: list[tuple[str, float, float]] = []  # (logical id, Init Duration ms, init CPU s)
        self.plan_dynalite_cpu = 0.0
        self._dynalite_at_plan = 0.0
        self._lock = threading.Lock()
        self._patches: list[Any] = []

    def __enter__(self) -> WorkerClock:
        clock = self
        real_invoke, real_ready = Worker.invoke, Worker.wait_ready

        def invoke(worker: Worker, request_id: str, payload: bytes) -> dict[str, Any]:
            logical_id, cold = worker.config.logical_id, worker.invocations == 0
            if logical_id == "PlanExportFunction":
                clock._dynalite_at_plan = _process_cpu(clock.dynalite)
            cpu, started = _process_cpu(worker.pid), time.monotonic()
            answer = real_invoke(worker, request_id, payload)
            wall, cpu = time.monotonic() - started, _process_cpu(worker.pid) - cpu
            duration = float(answer.get("report", {}).get("duration_ms", 0.0)) / 1000
            with clock._lock:
                clock.calls.append(Call(logical_id, cpu, duration, wall, cold))
                if logical_id == "CombinePlanFunction":
                    clock.plan_dynalite_cpu += _process_cpu(clock.dynalite) - clock._dynalite_at_plan
            return answer

        def wait_ready(worker: Worker) -> float:
            init_ms = real_ready(worker)
            with clock._lock:
                clock.inits.append((worker.config.logical_id, init_ms, _process_cpu(worker.pid)))
            return init_ms

        self._patches = [
            mock.patch.object(Worker, "invoke", invoke),
            mock.patch.object(Worker, "wait_ready", wait_ready),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *_: object) -> None:
        for patch in self._patches:
            patch.stop()

    def of(self, *logical_ids: str) -> list[Call]:
        return [call for call in self.calls if call.logical_id in logical_ids]

    def cpu(self, *logical_ids: str) -> float:
        return sum(call.cpu for call in self.of(*logical_ids))

    def by_function(self) -> dict[str, dict[str, Any]]:
        """Per function: calls, their CPU and REPORT seconds, cold starts and their Init Duration."""
        table: dict[str, dict[str, Any]] = {}
        for call in self.calls:
            row = table.setdefault(call.logical_id, {"calls": 0, "cpu_seconds": 0.0, "seconds": 0.0})
            row["calls"] += 1
            row["cpu_seconds"] += call.cpu
            row["seconds"] += call.duration
        for logical_id, init_ms, _ in self.inits:
            row = table.setdefault(logical_id, {"calls": 0, "cpu_seconds": 0.0, "seconds": 0.0})
            row.setdefault("init_ms", []).append(round(init_ms))
        for row in table.values():
            row["cpu_seconds"] = round(row["cpu_seconds"], 2)
            row["seconds"] = round(row["seconds"], 2)
        return dict(sorted(table.items()))

    def figures(self) -> dict[str, Any]:
        hops = sorted(call.wall - call.duration for call in self.calls)
        return {
            "cpu_seconds_workers": round(sum(call.cpu for call in self.calls), 2),
            "lambda_calls": len(self.calls),
            "cold_starts": len(self.inits),
            "cold_start_seconds": round(sum(init_ms for _, init_ms, _ in self.inits) / 1000, 2),
            "cpu_seconds_cold_starts": round(sum(cpu for _, _, cpu in self.inits), 2),
            "process_hop_seconds": round(sum(hops), 3),
            "process_hop_ms_median": round(1000 * statistics.median(hops), 2) if hops else 0.0,
            "functions": self.by_function(),
        }


def poll_job(client: Client, job_id: str) -> dict[str, Any]:
    """GET /pcm/jobs/{id}, waiting as long as it takes: on the runner a poll waits for one of the
    account's concurrent executions (8 here), which 10 part writers can hold for minutes at 500,000
    products; Client.call's 120 s timeout would end the measurement."""
    response = client.session.get(f"{client.base}/pcm/jobs/{job_id}", timeout=TIMEOUT_SECONDS)
    if response.status_code >= 400:
        raise RuntimeError(f"GET /pcm/jobs/{job_id}: {response.status_code} {response.text}")
    return dict(response.json()["data"])


def run_workflow(
    service: LocalService, client: Client, products: int, dynalite: int | None
) -> dict[str, Any]:
    with Meter(dynalite) as meter, WorkerClock(dynalite) as steps:
        posted = time.time()
        job = client.call("POST", "/pcm/products/export")["data"]
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while job["attributes"]["status"] not in ("success", "failed", "cancelled"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"export {job['id']} still {job['attributes']['status']}")
            time.sleep(POLL_SECONDS)
            job = poll_job(client, job["id"])
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
    part_seconds = sorted((call.duration for call in steps.of("WritePartFunction")), reverse=True)
    plan_cpu = steps.cpu("PlanExportFunction", "PlanShardGroupFunction", "CombinePlanFunction")
    combine_cpu, writer_cpu = steps.cpu("CombinePlanFunction"), steps.cpu("WritePartFunction")
    return (
        {
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
            # (worker processes' CPU over their calls, cold starts' imports excluded)
            "planner_cpu_us_per_product": round(1e6 * plan_cpu / products, 2),
            "combine_cpu_us_per_product": round(1e6 * combine_cpu / products, 2),  # part of the above
            "writer_cpu_us_per_product": round(1e6 * writer_cpu / products, 2),
            "state_transitions": sum(1 for event in events if event["type"].endswith("StateEntered")),
            "cpu_seconds_planner": round(plan_cpu, 2),
            "cpu_seconds_combine": round(combine_cpu, 2),
            "cpu_seconds_dynalite_while_planning": round(steps.plan_dynalite_cpu, 2),
            "cpu_seconds_part_writers": round(writer_cpu, 2),
        }
        | steps.figures()
        | meter.figures()
    )


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


WARM_UP_PRODUCTS = 2_000


def lambda_runner(service: LocalService) -> LambdaRunner:
    """The runner behind the local stack's functions (local_service runs them in worker processes)."""
    dispatcher = service.stack.dispatcher
    if not isinstance(dispatcher, RunnerLambdas):
        raise RuntimeError("the local stack does not run its functions on the runner")
    return dispatcher.runner


def warm_up(service: LocalService) -> dict[str, Any]:
    """One small export of a store of its own, before anything is measured: every function on the
    export's path gets a warm worker, as a warm Lambda has them (the script is timed after its
    imports). Returns the cold starts it took; a measured run that needs more workers at once than
    this one did (more parts, more planners) still starts some cold, and reports them apart."""
    store = create_store(service.stack, "warm-up store")
    seed(store.store_id, WARM_UP_PRODUCTS, bundles=1)
    before = lambda_runner(service).init_durations()
    client = Client(dataclasses.replace(service, store=store))
    job = client.call("POST", "/pcm/products/export")["data"]
    deadline = time.monotonic() + 600
    while job["attributes"]["status"] not in ("success", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"warm-up export {job['id']} still {job['attributes']['status']}")
        time.sleep(POLL_SECONDS)
        job = client.call("GET", f"/pcm/jobs/{job['id']}")["data"]
    if job["attributes"]["status"] != "success":
        raise RuntimeError(f"warm-up export {job['id']} {job['attributes']['status']}")
    after = lambda_runner(service).init_durations()
    started = {lid: times[len(before.get(lid, [])) :] for lid, times in after.items()}
    return {lid: [round(ms) for ms in times] for lid, times in sorted(started.items()) if times}


def measure(products: int, *, part_size: int, map_concurrency: int | None, repeats: int) -> dict[str, Any]:
    parameters = {"LogLevel": "WARNING", "PartSize": str(part_size)}
    if map_concurrency is not None:
        parameters["MapConcurrency"] = str(map_concurrency)
    with (
        tempfile.TemporaryDirectory(prefix="bench-e2e-logs-") as log_dir,
        local_service(port=0, parameters=parameters, log_dir=Path(log_dir)) as service,
    ):
        dynalite = _dynalite_pid()
        started = time.perf_counter()
        bundles = max(products // 10_000, 1)
        seed(service.store.store_id, products, bundles=bundles)
        seed_seconds = time.perf_counter() - started
        print(f"  seeded {products:,} products and {bundles} bundles in {seed_seconds:.0f} s", flush=True)
        started = time.perf_counter()
        warm_up_cold_starts = warm_up(service)
        cold_starts = sum(map(len, warm_up_cold_starts.values()))
        print(
            f"  warm-up export ({WARM_UP_PRODUCTS:,} products of another store) in "
            f"{time.perf_counter() - started:.1f} s: {cold_starts} cold starts",
            flush=True,
        )
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
                cold = (
                    f", {figures['cold_starts']} cold starts ({figures['cold_start_seconds']:.1f} s)"
                    if side == "workflow"
                    else ""
                )
                print(f"  {side:<8} {figures['seconds']:7.1f} s  {rate}  ({load}{cold})", flush=True)
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
        "lambdas": "runner",  # each function in worker processes of its own (local/runner)
        "warm_up_cold_starts": warm_up_cold_starts,
        "workflow": workflow,
        "script": script,
        "workflow_vs_script": round(float(workflow["seconds"]) / float(script["seconds"]), 3),
        # The same comparison in CPU seconds (Python, the Lambda workers and dynalite), which the
        # machine's other load changes far less than wall time.
        "workflow_vs_script_cpu": round(
            (
                workflow["cpu_seconds_this_process"]
                + workflow["cpu_seconds_workers"]
                + workflow["cpu_seconds_cold_starts"]
                + workflow["cpu_seconds_dynalite"]
            )
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
