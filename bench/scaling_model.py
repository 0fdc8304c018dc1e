"""Expected wall time and cost of an export on AWS, from the per-product costs measured end to end.

    .venv/bin/python bench/scaling_model.py [--results bench/results.json] [--item-bytes 2048]
                                            [--index-item-bytes N] [--no-save]

Nothing is measured here: the inputs are the largest end-to-end run in bench/results.json (CPU
seconds per product of the shard-group planners, of CombinePlan and of the part writers, the stored
size of a product and of its planning-index entry, CSV bytes per product), the deployment as
template.yaml declares it, the shard layout as the package defines it (``SHARD_COUNT``,
``SHARDS_PER_PLANNER``, ``PLANNING_INDEX_ATTRIBUTES``) and the published prices and limits below.
Prints a Markdown table (pasted into docs/performance.md, "Scaling model") and merges it into the
results as ``scaling_model``. Every assumption is a named constant; change one and run it again.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.results import RESULTS, load_results, merge_results  # noqa: E402
from local.template import Template  # noqa: E402
from product_export.adapters.products_table import PLANNING_INDEX, PLANNING_INDEX_ATTRIBUTES  # noqa: E402
from product_export.catalogue.models import SHARD_COUNT  # noqa: E402
from product_export.catalogue.service import RANGES_AT_ONCE  # noqa: E402
from product_export.export.planner import SHARDS_PER_PLANNER  # noqa: E402

# --- prices, us-east-1, list prices as published on 2026-11-28 (aws.amazon.com/<service>/pricing) ----
LAMBDA_GB_SECOND_ARM = 0.0000133334  # arm64 (the template's architecture), first 7.5 billion GB-s/month
LAMBDA_REQUEST = 0.20 / 1_000_000
DYNAMODB_READ_REQUEST_UNIT = 0.125 / 1_000_000  # on-demand, since the November 2024 price cut
DYNAMODB_WRITE_REQUEST_UNIT = 0.625 / 1_000_000  # the index's upkeep (docs text), not an export's
DYNAMODB_GB_MONTH = 0.25  # Standard table class; an index entry is billed its bytes + 100
S3_PUT_REQUEST = 0.005 / 1000  # PUT, COPY, POST (multipart create/part/complete), LIST
S3_GET_REQUEST = 0.0004 / 1000
S3_GB_MONTH = 0.023  # Standard, first 50 TB
STATE_TRANSITION = 0.025 / 1000  # Step Functions standard workflows

# --- limits (AWS documentation; shared/reference/platform-facts.md) ------------------------------------
# A new on-demand table serves 12,000 read units/s at once (its warm throughput); so does a new
# index, which has partitions and throughput of its own.
NEW_TABLE_RRU_PER_S = 12_000
TABLE_QUOTA_RRU_PER_S = 40_000  # default per-table on-demand maximum (a quota; can be raised)
# A quota raise asked of AWS (and applied to the index too): below the 64 shards' ceiling.
RAISED_QUOTA_RRU_PER_S = 160_000
# MapConcurrency for such a table: a 10^7 store's 200 parts in one wave. Past the writers the read
# rate feeds each writer slows to its share of the rate, which then binds, not the waves.
RAISED_QUOTA_MAP_CONCURRENCY = 200
PARTITION_RRU_PER_S = 3_000  # per physical partition; a partition key (a shard) lives in one
BYTES_PER_RRU_SECOND = 8 * 1024  # eventually consistent: 0.5 RRU per 4 KB read
INDEX_ENTRY_OVERHEAD_BYTES = 100  # DynamoDB stores (and bills) 100 bytes more per index entry
PAGE_BYTES = 1024 * 1024  # a Query page stops after 1 MB of items (index entries) read
LAMBDA_TIMEOUT_SECONDS = 900
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, a proportional share below

# --- the deployment (template.yaml, read here: it is the one source of truth) ------------------------
_TEMPLATE = Template.load()
_PARAMETERS = _TEMPLATE.parameters()
PART_SIZE = int(_PARAMETERS["PartSize"] or 0)
DEFAULT_MAP_CONCURRENCY = int(_PARAMETERS["MapConcurrency"] or 0)
RETENTION_DAYS = int(_PARAMETERS["PartRetentionDays"] or 0)
PLANNER_MB = _TEMPLATE.function("PlanShardGroupFunction").memory
COMBINE_MB = _TEMPLATE.function("CombinePlanFunction").memory
WRITER_MB = _TEMPLATE.function("WritePartFunction").memory
SMALL_STEPS_MB = sum(  # each runs once per export
    _TEMPLATE.function(name).memory
    for name in ("AcquireExportSlotFunction", "PlanExportFunction", "FinalizeExportFunction")
)
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024  # adapters/parts_bucket.py
INLINE_MAP_CONCURRENCY = 40  # an inline Map's ceiling, whatever its MaxConcurrency says


def _plan_map_concurrency() -> int:
    """The PlanShards Map's MaxConcurrency in statemachine/export.asl.json: planners run at once."""
    machine = _TEMPLATE.state_machine()
    assert machine is not None and machine.definition_path is not None, "no state machine definition"
    # The substitutions (${...}) are the only non-JSON parts of the file; their values do not matter here.
    definition = json.loads(re.sub(r"\$\{[^}]*\}", "0", machine.definition_path.read_text()))
    value = int(definition["States"]["PlanShards"].get("MaxConcurrency") or INLINE_MAP_CONCURRENCY)
    return min(value, INLINE_MAP_CONCURRENCY)


PLAN_MAP_CONCURRENCY = _plan_map_concurrency()
# The layout this design replaced: 16 shards, a planner Lambda of 1,024 MB each (16 at once),
# reading the table; full parts listed shard by shard; a writer read its ranges one after another.
BEFORE_SHARDS = 16
BEFORE_PLANNER_MB = 1024

# --- assumptions -------------------------------------------------------------------------------------
PAGE_LATENCY_SECONDS = 0.1  # one 1 MB Query page, DynamoDB to Lambda; a reader waits for each page
SMALL_STEP_SECONDS = 0.3  # AcquireSlot, PlanExport and FinalizeExport, each once
WORKFLOW_FIXED_SECONDS = 1.5  # queue, slot, finalize and the transitions between them
COLD_START_SECONDS = 1.0  # the planners, and the writers of the first wave, start cold (boto3, package)
PLANNER_FIXED_SECONDS = 0.3  # a planner: job check, its group file to S3
PART_FIXED_SECONDS = 0.5  # a part: job check, plan.json, multipart create and complete
COMBINE_FIXED_SECONDS = 0.5  # CombinePlan: the job, the group files fetched at once, two puts
REMAINDER_ID_BYTES = 40  # one remainder id in a group file: a UUID in JSON
LAMBDA_S3_BYTES_PER_SECOND = 100e6  # what CombinePlan fetches its group files at
# CombinePlan's CPU per remainder id when the results do not have it (older end-to-end runs): a
# one-off measurement on the bench machine of the real code (json.loads of the group files,
# combine_shards, cover_key_space, the part list's json.dumps) on 1,000,000 ids: 1.8 µs.
COMBINE_CPU_US_PER_ID_FALLBACK = 1.8
SIZES = (100_000, 1_000_000, 10_000_000)


@dataclass(frozen=True)
class Scenario:
    name: str
    shards: int
    shards_per_planner: int
    read_rru_per_s: int  # the table's (and the index's) read rate
    map_concurrency: int | None  # None: as many writers as that read rate feeds
    planning_source: str  # "index" (plan-keys) or "table"
    matching: float = 1.0  # the share of the store the export's filter matches
    planner_mb: int = PLANNER_MB
    plan_map_concurrency: int = PLAN_MAP_CONCURRENCY  # planners at once (PlanShards' MaxConcurrency)
    parts_in_turn: bool = True  # full parts numbered taking the shards in turn (combine_shards)
    ranges_at_once: int = RANGES_AT_ONCE  # a writer reads this many of its ranges at once


SCENARIOS = (
    # before: 16 shards, one PlanShard Lambda per shard, planning from the table.
    *(
        Scenario(
            name,
            BEFORE_SHARDS,
            1,
            rate,
            concurrency,
            "table",
            planner_mb=BEFORE_PLANNER_MB,
            plan_map_concurrency=BEFORE_SHARDS,
            parts_in_turn=False,
            ranges_at_once=1,
        )
        for name, rate, concurrency in (
            ("before, defaults", NEW_TABLE_RRU_PER_S, DEFAULT_MAP_CONCURRENCY),
            ("before, large store", TABLE_QUOTA_RRU_PER_S, None),
        )
    ),
    # now: SHARD_COUNT shards in groups of SHARDS_PER_PLANNER, planning from the plan-keys index.
    Scenario(
        "**now, defaults**",
        SHARD_COUNT,
        SHARDS_PER_PLANNER,
        NEW_TABLE_RRU_PER_S,
        DEFAULT_MAP_CONCURRENCY,
        "index",
    ),
    Scenario("**now, large store**", SHARD_COUNT, SHARDS_PER_PLANNER, TABLE_QUOTA_RRU_PER_S, None, "index"),
    Scenario(
        "**now, raised quota**",
        SHARD_COUNT,
        SHARDS_PER_PLANNER,
        RAISED_QUOTA_RRU_PER_S,
        RAISED_QUOTA_MAP_CONCURRENCY,
        "index",
    ),
    # A filter naming a field the index does not hold (name, sku, ...) is planned from the table.
    Scenario(
        "now, large store, filter on a table-only field",
        SHARD_COUNT,
        SHARDS_PER_PLANNER,
        TABLE_QUOTA_RRU_PER_S,
        None,
        "table",
    ),
    Scenario(
        "now, raised quota, filter on a table-only field",
        SHARD_COUNT,
        SHARDS_PER_PLANNER,
        RAISED_QUOTA_RRU_PER_S,
        None,
        "table",
    ),
    # A selective filter: parts still hold PartSize matching products, so each part's ranges span
    # the non-matching products between them, which its writer reads (and DynamoDB filters out).
    Scenario(
        "now, raised quota, filter matching 1%",
        SHARD_COUNT,
        SHARDS_PER_PLANNER,
        RAISED_QUOTA_RRU_PER_S,
        None,
        "index",
        matching=0.01,
    ),
)


@dataclass(frozen=True)
class Measured:
    label: str
    planner_cpu_s: float  # per matching product, the shard-group planners (one core of this machine)
    combine_cpu_s: float  # per remainder id, CombinePlan
    writer_cpu_s: float  # per product of item_bytes
    item_bytes: float
    index_item_bytes: float  # the product's entry in the planning index
    csv_bytes: float  # per product
    notes: tuple[str, ...]  # inputs the results did not have


@dataclass(frozen=True)
class Estimate:
    scenario: str
    products: int
    matching: int
    planners: int
    planning_source: str
    map_concurrency: int
    read_rru_per_s: int
    parts: int
    planner_seconds: float
    combine_seconds: float
    plan_seconds: float
    part_seconds: float
    parts_seconds: float
    wall_seconds: float
    plan_bound_by: str
    parts_bound_by: str
    slower_phase: str  # "plan" or "parts"
    over_lambda_limit: tuple[str, ...]  # steps that would run past Lambda's 15 minutes
    lambda_gb_seconds: float
    read_request_units: float
    s3_requests: int
    state_transitions: int
    cost_usd: float


def cpu_factor(memory_mb: int) -> float:
    """Seconds of a Lambda of ``memory_mb`` per CPU second of one full core."""
    return max(1.0, FULL_VCPU_MB / memory_mb)


def remainder_ids(matching: float, shards: int, part_size: int = PART_SIZE) -> int:
    """Ids CombinePlan receives: each shard's matching ids beyond its full parts, shards taken as
    equal (crc32 spreads ids evenly). At most shards times the part size: a store of fewer products
    than that is cut entirely in CombinePlan."""
    return round(shards * ((matching / shards) % part_size))


def measured(results: dict[str, Any], item_bytes: float | None, index_item_bytes: float | None) -> Measured:
    sizes = results.get("end_to_end", {}).get("sizes", {})
    if not sizes:
        raise SystemExit("no end_to_end results in bench/results.json: run bench/end_to_end.py first")
    label, run = max(sizes.items(), key=lambda entry: int(entry[1]["products"]))
    workflow, products = run["workflow"], int(run["products"])
    notes: list[str] = []
    measured_bytes = float(run["item_bytes"])
    # The writers' CPU and the CSV grow with the product (more values to parse and write). The
    # planners' do not: they receive only the attributes they project (keys, product_types,
    # columns, the filter's fields), whatever else the product holds.
    scale = (item_bytes or measured_bytes) / measured_bytes
    planning = workflow["planner_cpu_us_per_product"] / 1e6  # every planning step
    if "combine_cpu_us_per_product" in workflow:
        combine_total = workflow["combine_cpu_us_per_product"] / 1e6 * products
        # The run's CombinePlan cut every id when its shards held fewer than PartSize each (the
        # default sizes do); near a multiple of PartSize a shard this estimate of its input is poor.
        run_shards = int(run.get("shards", SHARD_COUNT))
        combine_per_id = combine_total / max(1, remainder_ids(products, run_shards, int(run["part_size"])))
        planner = planning - combine_total / products
    else:
        combine_per_id = COMBINE_CPU_US_PER_ID_FALLBACK / 1e6
        planner = planning
        notes.append(
            f"CombinePlan's CPU assumed {COMBINE_CPU_US_PER_ID_FALLBACK} µs per remainder id (the "
            f"{label} run does not record it; its planner figure includes CombinePlan's)"
        )
    if index_item_bytes is None:
        if "index_item_bytes" in run:
            index_item_bytes = float(run["index_item_bytes"])
        else:
            # Lazily: it starts the seeding code (local/seed.py) but no stack.
            from bench.end_to_end import planning_index_item_bytes  # noqa: PLC0415

            index_item_bytes = planning_index_item_bytes(str(uuid.uuid4()))  # a store id's length
            notes.append(
                f"index entry size computed here from local/seed.py's products (not in the {label} run)"
            )
    return Measured(
        label=label,
        planner_cpu_s=planner,
        combine_cpu_s=combine_per_id,
        writer_cpu_s=workflow["writer_cpu_us_per_product"] / 1e6 * scale,
        item_bytes=item_bytes or measured_bytes,
        # The index entry holds keys and short fields, not the text that makes a product larger.
        index_item_bytes=index_item_bytes,
        csv_bytes=float(workflow["bytes"]) / products * scale,
        notes=tuple(notes),
    )


def fed_writers(read_rru_per_s: int, shards: int, m: Measured) -> int:
    """The writers a read rate keeps busy: one reads a part's bytes in the time a part takes."""
    rate = min(read_rru_per_s, shards * PARTITION_RRU_PER_S)
    return max(1, math.floor(rate / (PART_SIZE * m.item_bytes / BYTES_PER_RRU_SECOND / part_time(m))))


def part_time(
    m: Measured, rows: int = PART_SIZE, read_items: float = PART_SIZE, ranges_at_once: float = 1.0
) -> float:
    """One part writer: its CPU share for its rows plus a wait for each page it reads, its ranges
    read ``ranges_at_once`` at a time (catalogue/read_ahead.py)."""
    return (
        rows * m.writer_cpu_s * cpu_factor(WRITER_MB)
        + read_items * m.item_bytes / PAGE_BYTES * PAGE_LATENCY_SECONDS / ranges_at_once
        + PART_FIXED_SECONDS
    )


def _slowest(terms: dict[str, float]) -> tuple[str, float]:
    name = max(terms, key=lambda key: terms[key])
    return name, terms[name]


def estimate(s: Scenario, products: int, m: Measured) -> Estimate:
    matching = round(products * s.matching)
    parts = max(1, math.ceil(matching / PART_SIZE))
    rate = min(s.read_rru_per_s, s.shards * PARTITION_RRU_PER_S)  # a shard is one partition at most
    planners = math.ceil(s.shards / s.shards_per_planner)
    source_bytes = m.index_item_bytes if s.planning_source == "index" else m.item_bytes

    # Planning: the PlanShards Map runs its planners at once (its MaxConcurrency at most), each
    # reading its shards at once (a thread each). A planner is bound by its CPU share for its
    # shards' matching products, or by one shard's pages one after another (plus that shard's share
    # of the CPU); all of them together by the read rate (they pay for every index entry or item
    # they read, matching or not). CombinePlan follows: its work grows with the remainder ids.
    planner_waves = math.ceil(planners / min(s.plan_map_concurrency, INLINE_MAP_CONCURRENCY))
    group_cpu = matching / planners * m.planner_cpu_s * cpu_factor(s.planner_mb)
    shard_waits = products / s.shards * source_bytes / PAGE_BYTES * PAGE_LATENCY_SECONDS
    plan_terms = {
        "planner CPU": planner_waves * (group_cpu + PLANNER_FIXED_SECONDS),
        "planner page waits": planner_waves
        * (shard_waits + group_cpu / s.shards_per_planner + PLANNER_FIXED_SECONDS),
        f"{s.planning_source} read rate": products * source_bytes / (rate * BYTES_PER_RRU_SECOND),
    }
    plan_limit, planner_seconds = _slowest(plan_terms)
    planner_seconds += COLD_START_SECONDS
    remainders = remainder_ids(matching, s.shards)
    combine_seconds = (
        COMBINE_FIXED_SECONDS
        + remainders * m.combine_cpu_s * cpu_factor(COMBINE_MB)
        + remainders * REMAINDER_ID_BYTES / LAMBDA_S3_BYTES_PER_SECOND
    )
    if combine_seconds > planner_seconds:
        plan_limit = "CombinePlan"
    plan_seconds = planner_seconds + combine_seconds

    # The parts: waves of MapConcurrency writers, or the read rate if it is slower. A part's
    # ranges cover the key space between its matching ids, so its writer reads 1/matching of a
    # product per row; when those span several shards (a part mixing shards' remainders) it reads
    # up to ranges_at_once of them at once. The Map starts parts in list order. Full parts now
    # take the shards in turn (combine_shards), so c writers at once read min(c, shards) shards;
    # before they came shard by shard, and a window of c consecutive parts, k full parts a shard,
    # touched 1 + (c - 1) / k shards on average, each serving 3,000 units/s. Once no shard has a
    # full part, every part mixes many shards.
    concurrency = s.map_concurrency or fed_writers(s.read_rru_per_s, s.shards, m)
    rows = min(matching, PART_SIZE)
    full_parts_per_shard = matching / s.shards / PART_SIZE
    spanned = 1.0 if full_parts_per_shard >= 1 else min(float(s.shards), rows / (matching / s.shards))
    part_seconds = part_time(m, rows, rows / s.matching, min(spanned, float(s.ranges_at_once)))
    waves = math.ceil(parts / concurrency)
    shards_at_once = float(s.shards)
    if full_parts_per_shard >= 1:
        at_once = min(concurrency, parts)
        crowding = at_once if s.parts_in_turn else 1 + (at_once - 1) / full_parts_per_shard
        shards_at_once = min(shards_at_once, crowding)
    partitions_rate = shards_at_once * PARTITION_RRU_PER_S
    read_bound = products * m.item_bytes / (min(rate, partitions_rate) * BYTES_PER_RRU_SECOND)
    crowded = f"partitions ({shards_at_once:.1f} shards at once)"
    parts_terms = {
        "writers": waves * part_seconds,
        "table read rate" if rate <= partitions_rate else crowded: read_bound,
    }
    parts_limit, parts_seconds = _slowest(parts_terms)
    parts_seconds += COLD_START_SECONDS
    over_limit = [
        step
        for step, seconds in (
            ("a planner", planner_seconds / planner_waves),
            ("CombinePlan", combine_seconds),
            ("a writer", part_seconds * max(1.0, read_bound / (waves * part_seconds))),
        )
        if seconds > LAMBDA_TIMEOUT_SECONDS
    ]

    part_bytes = rows * m.csv_bytes
    stretch = parts_seconds / (waves * part_seconds + COLD_START_SECONDS)  # writers slowed by reads
    gb_seconds = (
        planners * planner_seconds / planner_waves * s.planner_mb / 1024
        + combine_seconds * COMBINE_MB / 1024
        + parts * part_seconds * stretch * WRITER_MB / 1024
        + SMALL_STEP_SECONDS * SMALL_STEPS_MB / 1024
    )
    # Planning reads every index entry (or item), the writers every item (their ranges cover the
    # key space), each at 0.5 unit per 4 KB.
    rru = products * (source_bytes + m.item_bytes) / 4096 * 0.5
    puts = parts * (2 + math.ceil(part_bytes / UPLOAD_CHUNK_BYTES))  # multipart create, parts, complete
    puts += planners + 2 + 1  # the group files, plan.json and the part list, the clean-up's LIST
    gets = parts + planners + 1  # plan.json per writer, the group files, the Map's ItemReader
    # Counted in the execution history: 8 states per export (EnterQueue, AcquireSlot, SlotAcquired,
    # PlanExport, WriteParts, FinalizeExport, ExportFinished, ExportSucceeded), PlanShards, a
    # planner per group, CombinePlan; each part's WritePart runs in a Distributed Map child
    # execution, billed as a transition too.
    transitions = 8 + 2 + planners + parts
    lambda_requests = 3 + planners + 1 + parts
    cost = (
        gb_seconds * LAMBDA_GB_SECOND_ARM
        + lambda_requests * LAMBDA_REQUEST
        + rru * DYNAMODB_READ_REQUEST_UNIT
        + puts * S3_PUT_REQUEST
        + gets * S3_GET_REQUEST
        + matching * m.csv_bytes / 1024**3 * S3_GB_MONTH * RETENTION_DAYS / 30
        + transitions * STATE_TRANSITION
    )
    return Estimate(
        scenario=s.name,
        products=products,
        matching=matching,
        planners=planners,
        planning_source=s.planning_source,
        map_concurrency=concurrency,
        read_rru_per_s=s.read_rru_per_s,
        parts=parts,
        planner_seconds=round(planner_seconds, 1),
        combine_seconds=round(combine_seconds, 1),
        plan_seconds=round(plan_seconds, 1),
        part_seconds=round(part_seconds, 1),
        parts_seconds=round(parts_seconds, 1),
        wall_seconds=round(WORKFLOW_FIXED_SECONDS + plan_seconds + parts_seconds, 1),
        plan_bound_by=plan_limit,
        parts_bound_by=parts_limit,
        slower_phase="plan" if plan_seconds > parts_seconds else "parts",
        over_lambda_limit=tuple(over_limit),
        lambda_gb_seconds=round(gb_seconds),
        read_request_units=round(rru),
        s3_requests=puts + gets,
        state_transitions=transitions,
        cost_usd=round(cost, 4),
    )


def index_upkeep(m: Measured) -> dict[str, float]:
    """What the planning index costs between exports, per million products (docs text)."""
    entry_bytes = m.index_item_bytes + INDEX_ENTRY_OVERHEAD_BYTES
    # A write unit per KB of entry (one, for entries under 1 KB) on each product create, delete,
    # and update that changes a projected attribute.
    units = math.ceil(m.index_item_bytes / 1024)
    return {
        "usd_per_million_index_writes": round(1_000_000 * units * DYNAMODB_WRITE_REQUEST_UNIT, 3),
        "index_gb_per_million_products": round(1_000_000 * entry_bytes / 1024**3, 3),
        "usd_per_month_per_million_products": round(1_000_000 * entry_bytes / 1024**3 * DYNAMODB_GB_MONTH, 4),
    }


def markdown(estimates: list[Estimate]) -> str:
    lines = [
        "| | products | parts | plan s | of which combine s | one part s | parts s | wall s "
        "| bound by (plan / parts) | Lambda GB-s | read units | S3 requests | transitions | cost $ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for e in estimates:
        plan, parts = e.plan_bound_by, e.parts_bound_by
        if e.slower_phase == "plan":
            plan = f"**{plan}**"
        else:
            parts = f"**{parts}**"
        bound_by = f"{plan} / {parts}" + "".join(f", **{step} over 15 min**" for step in e.over_lambda_limit)
        lines.append(
            f"| {e.scenario} (\N{MULTIPLICATION SIGN}{e.map_concurrency}) | {e.products:,} | {e.parts} "
            f"| {e.plan_seconds:,.1f} | {e.combine_seconds:,.1f} | {e.part_seconds:,.1f} "
            f"| {e.parts_seconds:,.1f} | {e.wall_seconds:,.0f} | {bound_by} "
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
    parser.add_argument(
        "--index-item-bytes", type=float, default=None, help="planning-index entry size (default: measured)"
    )
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.results)
    m = measured(load_results(path), args.item_bytes, args.index_item_bytes)
    estimates = [estimate(scenario, n, m) for scenario in SCENARIOS for n in SIZES]
    upkeep = index_upkeep(m)
    print(
        f"From the {m.label} end-to-end run, scaled to {m.item_bytes:,.0f}-byte products: planner "
        f"{m.planner_cpu_s * 1e6:.1f} µs per product, CombinePlan {m.combine_cpu_s * 1e6:.2f} µs per "
        f"remainder id, writer {m.writer_cpu_s * 1e6:.1f} µs per product (CPU, one core of this "
        f"machine), {m.csv_bytes:,.0f} CSV bytes per product. {SHARD_COUNT} shards, "
        f"{SHARD_COUNT // SHARDS_PER_PLANNER} planners of {SHARDS_PER_PLANNER}; the {PLANNING_INDEX} "
        f"index ({', '.join(sorted(PLANNING_INDEX_ATTRIBUTES))}) holds {m.index_item_bytes:,.0f} bytes "
        f"per product ({m.index_item_bytes / m.item_bytes:.0%} of the item). Index upkeep: "
        f"${upkeep['usd_per_million_index_writes']} per million index writes, "
        f"{upkeep['index_gb_per_million_products']} GB and "
        f"${upkeep['usd_per_month_per_million_products']} a month per million products.\n"
    )
    for note in m.notes:
        print(f"Note: {note}.\n")
    print(markdown(estimates))
    if not args.no_save:
        merge_results(
            {
                "scaling_model": {
                    "inputs": asdict(m),
                    "index_upkeep": upkeep,
                    "estimates": [asdict(e) for e in estimates],
                }
            },
            path,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
