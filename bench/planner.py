"""Planning a store the workflow's way against planning it from the table, and one shard at a time.

    .venv/bin/python bench/planner.py [--products 120001] [--rounds 3] [--no-save]

On the local stack (dynalite, as in bench/end_to_end.py) with a seeded catalogue: the real
planning steps on a fresh job per round (``ExportService.begin_plan``, ``plan_shard_group`` for
each group of shards, ``combine_plan``), three ways, alternating round by round:

- ``groups, index``: the workflow's way: the 16 group planners at once (as the PlanShards Map runs
  them, here on threads), each reading its 4 shards at once from the slim plan-keys index;
- ``groups, table``: the same, reading whole items from the table (what a filter on a field the
  index lacks does);
- ``1 reader, index``: one shard after another, from the index.

Prints the best round of each, its CPU seconds (this process, dynalite) and the parts, which must
be the same. Merges ``planner_index_vs_table`` and ``planner_groups_vs_1_reader`` (seconds ÷
seconds) and ``planner`` into bench/results.json. dynalite is one process on this 2-core machine,
so concurrency here overlaps waits and the two processes' CPU; on AWS each group is a Lambda.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.end_to_end import _dynalite_pid, _process_cpu  # noqa: E402
from bench.results import merge_results  # noqa: E402
from local.seed import seed  # noqa: E402
from local.server import local_service  # noqa: E402
from product_export.adapters.jobs_table import JobsTable  # noqa: E402
from product_export.adapters.parts_bucket import PartsBucket  # noqa: E402
from product_export.adapters.products_table import ProductsTable  # noqa: E402
from product_export.export import service  # noqa: E402
from product_export.ids import uuid7  # noqa: E402
from product_export.jobs.models import Job  # noqa: E402
from product_export.values import now_timestamp  # noqa: E402

WAYS = ("groups, index", "groups, table", "1 reader, index")


def plan_once(
    exports: service.ExportService, store_id: str, way: str, dynalite: int | None
) -> dict[str, Any]:
    now = now_timestamp()
    job = Job(id=uuid7(), store_id=store_id, created_at=now, updated_at=now)
    exports.jobs.create(job)
    real_index = service.planning_index
    if way.endswith("table"):
        service.planning_index = lambda expr: None  # as for a filter on a field the index lacks
    cpu, dynalite_cpu = resource.getrusage(resource.RUSAGE_SELF), _process_cpu(dynalite)
    started = time.perf_counter()
    try:
        groups = exports.begin_plan(store_id, job.id)["groups"]
        if way.startswith("1 reader"):
            groups = [[shard] for group in groups for shard in group]
        with ThreadPoolExecutor(max_workers=1 if way.startswith("1 reader") else len(groups)) as pool:
            planned = list(pool.map(lambda group: exports.plan_shard_group(store_id, job.id, group), groups))
        plan = exports.combine_plan(store_id, job.id, planned)
    finally:
        service.planning_index = real_index
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    plan["parts"] = exports.bucket.get_json(plan["parts_key"])
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds_this_process": round(after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime, 2),
        "cpu_seconds_dynalite": round(_process_cpu(dynalite) - dynalite_cpu, 2),
        "source": sorted({group["source"] for group in planned}),
        "products": plan["products"],
        "parts": [part["products"] for part in plan["parts"]],
        "load_average": round(os.getloadavg()[0], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=120_001)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    with (
        tempfile.TemporaryDirectory(prefix="bench-planner-logs-") as log_dir,
        local_service(port=0, parameters={"LogLevel": "WARNING"}, log_dir=Path(log_dir)) as local,
    ):
        store_id = local.store.store_id
        seed(store_id, args.products, bundles=max(args.products // 10_000, 1))
        dynalite = _dynalite_pid()
        refs = local.stack.refs
        exports = service.ExportService(
            jobs=JobsTable(refs["JobsTable"]),
            products=ProductsTable(refs["ProductsTable"]),
            bucket=PartsBucket(refs["PartsBucket"]),
            part_size=50_000,
        )
        rounds: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
        for _ in range(args.rounds):
            for way in WAYS:
                rounds[way].append(plan_once(exports, store_id, way, dynalite))
                print(f"  {way:<16} {rounds[way][-1]}", flush=True)
    best = {way: min(runs, key=lambda run: run["seconds"]) for way, runs in rounds.items()}
    counted = {way: run["products"] for way, run in best.items()}
    if set(counted.values()) != {args.products} or len({str(run["parts"]) for run in best.values()}) != 1:
        raise SystemExit(f"the planners disagree: {counted}")
    index, table, single = (best[way]["seconds"] for way in WAYS)
    ratios = {
        "planner_index_vs_table": round(index / table, 3),
        "planner_groups_vs_1_reader": round(index / single, 3),
    }
    print(
        f"{args.products:,} products: index {index} s, table {table} s, one reader {single} s "
        f"({ratios['planner_index_vs_table']} index/table, {ratios['planner_groups_vs_1_reader']} groups/1)"
    )
    if not args.no_save:
        merge_results({**ratios, "planner": {"products": args.products, **{way: best[way] for way in WAYS}}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
