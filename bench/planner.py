"""Planning a store's 16 shards at once against one shard after another, in one run.

    .venv/bin/python bench/planner.py [--products 120001] [--rounds 3] [--no-save]

On the local stack (dynalite, as in bench/end_to_end.py) with a seeded catalogue: the real
planning steps on a fresh job per round (``ExportService.begin_plan``, ``plan_shard`` for each
shard, ``combine_plan``), alternating between the 16 shard planners at once (as the workflow's
PlanShards Map runs them, here on threads) and one shard after another. Prints the best round of
each, its CPU seconds (this process, dynalite) and the parts, which must be the same.
Merges ``planner_16_vs_1_readers`` (seconds ÷ seconds) and ``planner`` into bench/results.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
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


def plan_once(
    exports: service.ExportService, store_id: str, readers: int, dynalite: int | None
) -> dict[str, Any]:
    now = now_timestamp()
    job = Job(id=uuid7(), store_id=store_id, created_at=now, updated_at=now)
    exports.jobs.create(job)
    cpu, dynalite_cpu = resource.getrusage(resource.RUSAGE_SELF), _process_cpu(dynalite)
    started = time.perf_counter()
    shards = exports.begin_plan(store_id, job.id)["shards"]
    with ThreadPoolExecutor(max_workers=readers) as pool:
        planned = list(pool.map(lambda shard: exports.plan_shard(store_id, job.id, shard), shards))
    plan = exports.combine_plan(store_id, job.id, planned)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    plan["parts"] = exports.bucket.get_json(plan["parts_key"])
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds_this_process": round(after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime, 2),
        "cpu_seconds_dynalite": round(_process_cpu(dynalite) - dynalite_cpu, 2),
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
    with local_service(port=0, parameters={"LogLevel": "WARNING"}) as local:
        store_id = local.store.store_id
        seed(store_id, args.products, bundles=max(args.products // 10_000, 1))
        dynalite = _dynalite_pid()
        exports = service.ExportService(
            jobs=JobsTable(), products=ProductsTable(), bucket=PartsBucket(), part_size=50_000
        )
        rounds: dict[int, list[dict[str, Any]]] = {16: [], 1: []}
        for _ in range(args.rounds):
            for readers in (16, 1):
                rounds[readers].append(plan_once(exports, store_id, readers, dynalite))
                print(f"  {readers:>2} readers: {rounds[readers][-1]}", flush=True)
    best = {readers: min(runs, key=lambda run: run["seconds"]) for readers, runs in rounds.items()}
    if best[16]["products"] != args.products or best[1]["products"] != args.products:
        raise SystemExit(f"the planner counted {best[16]['products']} / {best[1]['products']} products")
    ratio = round(best[16]["seconds"] / best[1]["seconds"], 3)
    seconds = f"16 readers {best[16]['seconds']} s, 1 reader {best[1]['seconds']} s"
    print(f"{args.products:,} products: {seconds} ({ratio})")
    if not args.no_save:
        merge_results(
            {
                "planner_16_vs_1_readers": ratio,
                "planner": {"products": args.products, "readers_16": best[16], "readers_1": best[1]},
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
