"""Expected wall time and cost of an export on AWS, from the per-product costs measured end to end.

    .venv/bin/python bench/scaling_model.py [--results bench/results.json] [--item-bytes 2048]

Nothing is measured here: the inputs are the largest end-to-end run in bench/results.json (CPU
seconds per product of the planner and of the part writers, CSV bytes and stored bytes per product,
state transitions per part) and the published prices and limits below. Prints a Markdown table
(pasted into docs/performance.md, "Scaling model") and merges it into the results as
``scaling_model``. Every assumption is a named constant; change one and run it again.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import RESULTS, load_results, merge_results

# --- prices, us-east-1, list prices as published on 2026-11-28 (aws.amazon.com/<service>/pricing) ----
LAMBDA_GB_SECOND_ARM = 0.0000133334  # arm64 (the template's architecture), first 7.5 billion GB-s/month
LAMBDA_REQUEST = 0.20 / 1_000_000
DYNAMODB_READ_REQUEST_UNIT = 0.125 / 1_000_000  # on-demand, since the November 2024 price cut
S3_PUT_REQUEST = 0.005 / 1000  # PUT, COPY, POST (multipart create/part/complete), LIST
S3_GET_REQUEST = 0.0004 / 1000
S3_GB_MONTH = 0.023  # Standard, first 50 TB
STATE_TRANSITION = 0.025 / 1000  # Step Functions standard workflows

# --- limits (AWS documentation; shared/reference/platform-facts.md) ------------------------------------
NEW_TABLE_RRU_PER_S = 12_000  # what a new on-demand table serves at once
TABLE_QUOTA_RRU_PER_S = 40_000  # default per-table on-demand maximum (a quota; can be raised)
PARTITION_RRU_PER_S = 3_000  # per physical partition
SHARDS = 16  # partition keys per store (catalogue/models.py SHARD_COUNT)
# A store's reads top out at SHARDS * PARTITION_RRU_PER_S = 48,000 units/s (a partition key lives in
# one partition), above the table's default quota: with 16 shards the quota binds first.
INLINE_MAP_CONCURRENCY = 40
BYTES_PER_RRU_SECOND = 8 * 1024  # eventually consistent: 0.5 RRU per 4 KB read
PAGE_BYTES = 1024 * 1024  # a Query page stops after 1 MB of items read (before projection)

# --- the deployment (template.yaml) ------------------------------------------------------------------
PART_SIZE = 50_000
WRITER_MB = PLANNER_MB = 1024
SMALL_STEP_MB, SMALL_STEP_SECONDS = 512, 0.3  # AcquireSlot and FinalizeExport, each once
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024  # adapters/parts_bucket.py
RETENTION_DAYS = 7  # PartRetentionDays

# --- assumptions -------------------------------------------------------------------------------------
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, a proportional share below
PAGE_LATENCY_SECONDS = 0.1  # one 1 MB Query page, DynamoDB to Lambda; a writer waits for each page
PART_FIXED_SECONDS = 0.5  # per part: job check, plan.json, multipart create and complete
WORKFLOW_FIXED_SECONDS = 1.5  # queue, slot, finalize and the transitions between them
COMBINE_SECONDS = 2.0  # CombinePlan: read 16 shard files (< 2 MB of ids each), cut, write the list
SIZES = (100_000, 1_000_000, 10_000_000)
LAMBDA_TIMEOUT_SECONDS = 900
# Writers a table at the default quota feeds (about 580 read units/s each for 2 KB products).
LARGE_STORE_CONCURRENCY = 64
SCENARIOS = (  # (name, design, Map concurrency, table read units per second, shards)
    # before: one PlanExport Lambda read every shard (16 threads), parts in an inline Map (max 40).
    ("before, defaults", "one planner", 10, NEW_TABLE_RRU_PER_S, SHARDS),
    ("before, inline ceiling", "one planner", INLINE_MAP_CONCURRENCY, TABLE_QUOTA_RRU_PER_S, SHARDS),
    # now: a planner Lambda per shard, CombinePlan, parts in a Distributed Map (MapConcurrency).
    ("**now, defaults**", "per shard", 10, NEW_TABLE_RRU_PER_S, SHARDS),
    ("**now, large store**", "per shard", LARGE_STORE_CONCURRENCY, TABLE_QUOTA_RRU_PER_S, SHARDS),
    # not built: 64 shards (a key change) and a read quota raised to 160,000 units/s.
    ("64 shards (proposed)", "per shard", 200, 160_000, 64),
)


@dataclass(frozen=True)
class Measured:
    label: str
    planner_cpu_s: float  # per product, one core of this machine
    writer_cpu_s: float
    item_bytes: float
    csv_bytes: float  # per product


@dataclass(frozen=True)
class Estimate:
    scenario: str
    products: int
    planners: int
    map_concurrency: int
    table_rru_per_s: int
    parts: int
    plan_seconds: float
    part_seconds: float
    parts_seconds: float
    wall_seconds: float
    bound_by: str
    lambda_gb_seconds: float
    read_request_units: float
    s3_requests: int
    state_transitions: int
    cost_usd: float


def measured(results: dict[str, Any], item_bytes: float | None) -> Measured:
    sizes = results.get("end_to_end", {}).get("sizes", {})
    if not sizes:
        raise SystemExit("no end_to_end results in bench/results.json: run bench/end_to_end.py first")
    label, run = max(sizes.items(), key=lambda entry: int(entry[1]["products"]))
    workflow, products = run["workflow"], int(run["products"])
    measured_bytes = float(run["item_bytes"])
    # CPU and CSV size are taken to grow with the stored size of a product.
    scale = (item_bytes or measured_bytes) / measured_bytes
    return Measured(
        label=label,
        planner_cpu_s=workflow["planner_cpu_us_per_product"] / 1e6 * scale,
        writer_cpu_s=workflow["writer_cpu_us_per_product"] / 1e6 * scale,
        item_bytes=item_bytes or measured_bytes,
        csv_bytes=float(workflow["bytes"]) / products * scale,
    )


def estimate(  # noqa: PLR0917 - one scenario's parameters
    scenario: str, design: str, products: int, concurrency: int, table_rru: int, shards: int, m: Measured
) -> Estimate:
    parts = math.ceil(products / PART_SIZE)
    read_rru_per_s = min(table_rru, shards * PARTITION_RRU_PER_S)  # a shard is one partition at most
    read_bytes_per_s = read_rru_per_s * BYTES_PER_RRU_SECOND
    store_bytes = products * m.item_bytes
    per_shard = design == "per shard"
    planners = shards if per_shard else 1
    if not per_shard:
        concurrency = min(concurrency, INLINE_MAP_CONCURRENCY)

    # Planning: every shard is read at once (one thread each in the one planner before, one Lambda
    # each now), so it is bound by the planners' CPU share, by one shard's pages one after another,
    # or by the table's read rate (it pays for whole items, whatever it projects). Now a
    # CombinePlan step follows.
    plan_cpu = products * m.planner_cpu_s * max(1.0, FULL_VCPU_MB / PLANNER_MB) / planners
    plan_pages = store_bytes / PAGE_BYTES / shards * PAGE_LATENCY_SECONDS
    plan_seconds = max(plan_cpu, plan_pages, store_bytes / read_bytes_per_s)
    if per_shard:
        plan_seconds += COMBINE_SECONDS

    # One part writer: its CPU share for 50,000 rows plus a wait for each page it reads.
    rows = min(products, PART_SIZE)
    part_seconds = (
        rows * m.writer_cpu_s * max(1.0, FULL_VCPU_MB / WRITER_MB)
        + rows * m.item_bytes / PAGE_BYTES * PAGE_LATENCY_SECONDS
        + PART_FIXED_SECONDS
    )
    waves = math.ceil(parts / concurrency)
    compute_seconds = waves * part_seconds
    read_seconds = store_bytes / read_bytes_per_s
    parts_seconds = max(compute_seconds, read_seconds)
    bound_by = "writers" if compute_seconds >= read_seconds else "table reads"
    if plan_seconds > parts_seconds:
        bound_by = "planner CPU" if plan_cpu >= plan_seconds else "planner reads"
    if plan_seconds > LAMBDA_TIMEOUT_SECONDS:
        bound_by += ", **planner over 15 min**"

    part_bytes = rows * m.csv_bytes
    gb_seconds = (
        plan_seconds * planners * PLANNER_MB / 1024
        + parts * part_seconds * WRITER_MB / 1024
        + 2 * SMALL_STEP_SECONDS * SMALL_STEP_MB / 1024
    )
    rru = 2 * store_bytes / 4096 * 0.5  # the planners and the writers each read every item once
    puts = parts * (2 + math.ceil(part_bytes / UPLOAD_CHUNK_BYTES)) + 2  # + plan.json, the clean-up
    gets = parts  # each writer reads plan.json
    # Counted in the execution history: 8 states per export plus one WritePart per part before;
    # now also PlanShards, a PlanShard per shard and CombinePlan (the WritePart of each part runs
    # in the Distributed Map's child execution, billed as a transition too).
    transitions = 8 + parts + (shards + 2 if per_shard else 0)
    lambda_requests = parts + 3 + (shards + 1 if per_shard else 0)
    if per_shard:
        puts += shards + 1  # the shard files and the part list
        gets += shards + 1  # CombinePlan reads the shard files, the Map's ItemReader the list
    cost = (
        gb_seconds * LAMBDA_GB_SECOND_ARM
        + lambda_requests * LAMBDA_REQUEST
        + rru * DYNAMODB_READ_REQUEST_UNIT
        + puts * S3_PUT_REQUEST
        + gets * S3_GET_REQUEST
        + products * m.csv_bytes / 1024**3 * S3_GB_MONTH * RETENTION_DAYS / 30
        + transitions * STATE_TRANSITION
    )
    return Estimate(
        scenario=scenario,
        products=products,
        planners=planners,
        map_concurrency=concurrency,
        table_rru_per_s=table_rru,
        parts=parts,
        plan_seconds=round(plan_seconds, 1),
        part_seconds=round(part_seconds, 1),
        parts_seconds=round(parts_seconds, 1),
        wall_seconds=round(WORKFLOW_FIXED_SECONDS + plan_seconds + parts_seconds, 1),
        bound_by=bound_by,
        lambda_gb_seconds=round(gb_seconds),
        read_request_units=round(rru),
        s3_requests=puts + gets,
        state_transitions=transitions,
        cost_usd=round(cost, 4),
    )


def markdown(estimates: list[Estimate]) -> str:
    lines = [
        "| | products | parts | plan s | one part s | parts s | wall s | bound by | Lambda GB-s "
        "| read units | S3 requests | transitions | cost $ |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for e in estimates:
        lines.append(
            f"| {e.scenario} (\N{MULTIPLICATION SIGN}{e.map_concurrency}) | {e.products:,} | {e.parts} "
            f"| {e.plan_seconds:,.1f} | {e.part_seconds:,.1f} | {e.parts_seconds:,.1f} "
            f"| {e.wall_seconds:,.0f} | {e.bound_by} "
            f"| {e.lambda_gb_seconds:,} | {e.read_request_units:,} | {e.s3_requests:,} "
            f"| {e.state_transitions:,} | {e.cost_usd:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--item-bytes", type=float, default=2048, help="stored product size (default 2 KB)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.results)
    m = measured(load_results(path), args.item_bytes)
    estimates = [
        estimate(what, design, n, c, rru, shards, m)
        for what, design, c, rru, shards in SCENARIOS
        for n in SIZES
    ]
    print(
        f"From the {m.label} end-to-end run, scaled to {m.item_bytes:,.0f}-byte products: planner "
        f"{m.planner_cpu_s * 1e6:.1f} µs and writer {m.writer_cpu_s * 1e6:.1f} µs of CPU per product "
        f"(one core of this machine), {m.csv_bytes:,.0f} CSV bytes per product.\n"
    )
    print(markdown(estimates))
    if not args.no_save:
        merge_results(
            {"scaling_model": {"inputs": asdict(m), "estimates": [asdict(e) for e in estimates]}}, path
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
