"""Products created per second over HTTP against `make serve`'s stack, by concurrent clients.

    .venv/bin/python bench/serve.py [--creates 10000] [--threads 16] [--no-save]

Starts ``local_service`` (what `make serve` runs: the API over HTTP, the authorizer and
ProductsApiFunction in the runner's worker processes, dynalite), takes a token, then ``threads``
client threads (a keep-alive session each) POST /pcm/products with a JSON:API body (as
tests/support.py ``product()``: unicode, commas, quotes, newlines, extensions) until ``creates``
products exist. Each request must answer 201; afterwards the store's product count is checked.

Merges ``serve_creates_per_s`` and ``serve`` (the run's figures: latency percentiles, the workers
the runner started, its cold starts, the load average around the run) into bench/results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.results import merge_results, print_table  # noqa: E402
from local.lambdas import RunnerLambdas  # noqa: E402
from local.server import LocalService, local_service  # noqa: E402
from tests.support import product  # noqa: E402

WARM_UP_CREATES = 32  # not timed: the first calls start the workers


def table_items(service: LocalService) -> int:
    """Items in the products table (a Scan page counts 1 MB at most: every page)."""
    scan = service.stack.client("dynamodb").get_paginator("scan")
    pages = scan.paginate(TableName=service.stack.refs["ProductsTable"], Select="COUNT")
    return sum(int(page["Count"]) for page in pages)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The run's figures; SystemExit if a create failed or the table lacks a product."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-serve-logs-") as log_dir,
        local_service(port=0, parameters={"LogLevel": "WARNING"}, log_dir=Path(log_dir)) as service,
    ):
        dispatcher = service.stack.dispatcher
        assert isinstance(dispatcher, RunnerLambdas)
        runner = dispatcher.runner
        form = {
            "grant_type": "client_credentials",
            "client_id": service.store.client_id,
            "client_secret": service.store.client_secret,
        }
        token = requests.post(f"{service.base_url}/oauth/access_token", data=form, timeout=60).json()[
            "access_token"
        ]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        url = f"{service.base_url}/pcm/products"
        numbers = itertools.count(1)
        lock = threading.Lock()
        local = threading.local()
        latencies: list[float] = []
        failures: list[str] = []

        def create(_: int) -> None:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            with lock:
                number = next(numbers)
            body = json.dumps({"data": {"type": "product", "attributes": product(number)}})
            started = time.perf_counter()
            response = session.post(url, data=body.encode(), headers=headers, timeout=120)
            took = time.perf_counter() - started
            with lock:
                if response.status_code == 201:
                    latencies.append(took)
                else:
                    failures.append(f"{response.status_code} {response.text[:200]}")

        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(create, range(WARM_UP_CREATES)))  # start the workers, not timed
            latencies.clear()
            cold_before = sum(map(len, runner.init_durations().values()))
            load_before = os.getloadavg()[0]
            measured_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            started = time.perf_counter()
            list(pool.map(create, range(args.creates)))
            seconds = time.perf_counter() - started
            load_after = os.getloadavg()[0]
        cold = runner.init_durations()
        workers = {lid: len(runner.workers(lid)) for lid in ("AuthorizerFunction", "ProductsApiFunction")}
        count = table_items(service)
    if failures:
        raise SystemExit(f"{len(failures)} creates failed, e.g. {failures[0]}")
    created = args.creates + WARM_UP_CREATES
    if count < created:
        raise SystemExit(f"the table holds {count} items, {created} products were created")
    quantiles = statistics.quantiles(latencies, n=100)
    figures = {
        "measured_at": measured_at,
        "creates": args.creates,
        "threads": args.threads,
        "seconds": round(seconds, 1),
        "latency_ms_p50": round(1000 * quantiles[49], 1),
        "latency_ms_p99": round(1000 * quantiles[98], 1),
        "runner_concurrency": runner.concurrency,
        "workers": workers,
        "cold_starts_while_measuring": sum(map(len, cold.values())) - cold_before,
        "items_in_table": count,
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
    }
    return figures | {"creates_per_s": round(args.creates / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    figures = measure(args)
    rate, workers = figures.pop("creates_per_s"), figures["workers"]
    load_before, load_after = figures["load_average_before"], figures["load_average_after"]
    print_table(
        f"POST /pcm/products, {args.creates:,} creates by {args.threads} threads",
        [
            ("creates per second", f"{rate:,}", f"{figures['seconds']} s"),
            ("latency p50 / p99", f"{figures['latency_ms_p50']} / {figures['latency_ms_p99']} ms", ""),
            ("warm workers", str(workers), f"runner concurrency {figures['runner_concurrency']}"),
            (
                "items in the table",
                f"{figures['items_in_table']:,}",
                f"with {WARM_UP_CREATES} warm-up creates",
            ),
            ("load average (1 min)", f"{load_before:.1f} -> {load_after:.1f}", "before -> after"),
        ],
    )
    if not args.no_save:
        merge_results({"serve_creates_per_s": rate, "serve": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
