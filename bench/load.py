"""Load on the local stack: concurrent exports across stores; correctness, isolation and fairness.

    python -m bench.load [--stores 5] [--products 3000] [--exports 50] [--part-size 1000]

Starts the local stack (as `make serve`: dynalite, moto's S3 server, the template's state machine
with the real handlers, the API over HTTP), creates the stores and loads each with its own products
(SKUs numbered per store, so that a row of another store is recognisable), then fires all export
requests at once over HTTP, spread round-robin over the stores, half of them with
``filter=eq(status,live)``. It waits for every job and checks:

- every job ends ``success``;
- its files hold exactly the store's matching products, each once (by SKU and id), and no row of
  another store;
- fairness: per store, at most ``MaxConcurrentExportsPerStore`` jobs were ``started`` at the same
  time (from each job's ``started_at``..``completed_at``), and jobs started in creation order.

Prints the figures (total time, jobs per minute, the most jobs of one store and of all stores running
at once) and exits 1 when a check fails. Not a test: a figure for the README and the issue.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from local.seed import BulkLoader, demo_product
from local.server import LocalService, local_service
from local.stores import DemoStore, create_store
from product_export.adapters.products_table import ProductsTable
from product_export.catalogue.models import ProductData
from product_export.catalogue.products import new_item

LIVE = "eq(status,live)"
STORE_SPAN = 1_000_000  # store k's products are numbered k * STORE_SPAN + 1 ...
FINAL = ("success", "failed", "cancelled")


@dataclass(frozen=True)
class Store:
    number: int
    key: DemoStore
    token: str
    skus: frozenset[str]  # every product's SKU
    live: frozenset[str]  # the SKUs eq(status,live) selects

    def expected(self, filter_text: str | None) -> frozenset[str]:
        return self.live if filter_text == LIVE else self.skus


def _sku(number: int) -> str:
    return str(demo_product(number)["sku"])


def _load(store_id: str, numbers: Iterable[int]) -> None:
    """The products, through the catalogue's own item builder, into the local DynamoDB in bulk."""
    table = ProductsTable(os.environ["PRODUCTS_TABLE"])  # the local stack's, inherited
    items = (
        new_item(store_id, ProductData.model_validate({"type": "product", "attributes": demo_product(n)}))
        for n in numbers
    )
    BulkLoader(table.table).put_all(table.encoded_for_load(store_id, items))


def _token(service: LocalService, key: DemoStore) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": key.client_id,
        "client_secret": key.client_secret,
    }
    answer = requests.post(f"{service.base_url}/oauth/access_token", data=form, timeout=60)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _make_stores(service: LocalService, count: int, products: int) -> list[Store]:
    stores = []
    for k in range(1, count + 1):
        key = create_store(service.stack, f"load store {k}")
        numbers = range(k * STORE_SPAN + 1, k * STORE_SPAN + products + 1)
        stores.append(
            Store(
                number=k,
                key=key,
                token=_token(service, key),
                skus=frozenset(_sku(n) for n in numbers),
                live=frozenset(_sku(n) for n in numbers if demo_product(n)["status"] == "live"),
            )
        )
    # One thread per store: building items is Python work, storing them dynalite's.
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(
            pool.map(
                lambda s: _load(
                    s.key.store_id, range(s.number * STORE_SPAN + 1, s.number * STORE_SPAN + products + 1)
                ),
                stores,
            )
        )
    return stores


def _post_export(service: LocalService, store: Store, filter_text: str | None) -> dict[str, Any]:
    params = {"filter": filter_text} if filter_text else {}
    answer = requests.post(
        f"{service.base_url}/pcm/products/export",
        params=params,
        headers={"Authorization": f"Bearer {store.token}"},
        timeout=120,
    )
    if answer.status_code != 201:
        raise RuntimeError(f"store {store.number}: POST export answered {answer.status_code}: {answer.text}")
    return dict(answer.json()["data"])


def _wait_all(
    service: LocalService, stores: list[Store], job_ids: set[str], answers: list[str]
) -> dict[str, dict[str, Any]]:
    """Every job once final, read through each store's job list (a few requests a round, as a
    dashboard would poll); an answer other than 200 is recorded in ``answers``."""
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 1800
    while len(final) < len(job_ids):
        for store in stores:
            answer = requests.get(
                f"{service.base_url}/pcm/jobs",
                params={"page[limit]": "100"},
                headers={"Authorization": f"Bearer {store.token}"},
                timeout=120,
            )
            if answer.status_code != 200:
                answers.append(f"GET /pcm/jobs answered {answer.status_code}: {answer.text[:200]}")
                continue
            for job in answer.json()["data"]:
                if job["id"] in job_ids and job["attributes"]["status"] in FINAL:
                    final[job["id"]] = job
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(job_ids) - len(final)} jobs not final after 30 minutes")
        time.sleep(0.5)
    return final


def _rows(url: str) -> list[dict[str, str]]:
    content = requests.get(url, timeout=300).content
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _check_files(
    job: dict[str, Any], store: Store, others: frozenset[str], filter_text: str | None
) -> list[str]:
    """What is wrong with the job's files (nothing: an empty list)."""
    problems = []
    rows = [row for url in job["meta"]["file_locations"] or [] for row in _rows(url)]
    skus = [row["sku"] for row in rows]
    ids = [row["id"] for row in rows]
    expected = store.expected(filter_text)
    if len(skus) != len(set(skus)) or len(ids) != len(set(ids)):
        problems.append(f"duplicate rows ({len(skus) - len(set(skus))} SKUs repeated)")
    if set(skus) & others:
        problems.append(f"{len(set(skus) & others)} rows of another store")
    if set(skus) != expected:
        missing, extra = len(expected - set(skus)), len(set(skus) - expected)
        problems.append(
            f"{len(skus)} rows for {len(expected)} matching products ({missing} missing, {extra} extra)"
        )
    return problems


def _time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an interval ending when another starts does not overlap)."""
    spans = list(intervals)
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in events:  # at equal times the end (-1) sorts first
        running += change
        most = max(most, running)
    return most


def run(stores_count: int, products: int, exports: int, part_size: int) -> int:
    parameters = {"PartSize": str(part_size), "LogLevel": "ERROR"}
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-logs-") as log_dir,
        local_service(port=0, parameters=parameters, log_dir=Path(log_dir)) as service,
    ):
        limit = int(service.stack.parameters.get("MaxConcurrentExportsPerStore", "0") or 0)
        print(f"local stack at {service.base_url}; MaxConcurrentExportsPerStore = {limit or 'absent'}")
        mark = time.perf_counter()
        stores = _make_stores(service, stores_count, products)
        print(f"{stores_count} stores x {products:,} products loaded in {time.perf_counter() - mark:.1f} s")

        plan = [(stores[i % stores_count], None if i % 2 else LIVE) for i in range(exports)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=exports) as pool:
            created = list(pool.map(lambda p: _post_export(service, *p), plan))
        posted = time.perf_counter() - started
        problems: list[str] = []
        final = _wait_all(service, stores, {job["id"] for job in created}, problems)
        total = time.perf_counter() - started
        jobs = [final[job["id"]] for job in created]

        all_skus = frozenset().union(*(s.skus for s in stores))
        for (store, filter_text), job in zip(plan, jobs, strict=True):
            status = job["attributes"]["status"]
            if status != "success":
                errors = requests.get(
                    f"{service.base_url}/pcm/jobs/{job['id']}/errors",
                    headers={"Authorization": f"Bearer {store.token}"},
                    timeout=60,
                ).json()
                why = "; ".join(e["attributes"]["message"] for e in errors.get("data", [])[:2])
                problems.append(f"store {store.number} job {job['id']}: {status}: {why[:300]}")
                continue
            for problem in _check_files(job, store, all_skus - store.skus, filter_text):
                problems.append(
                    f"store {store.number} job {job['id']} ({filter_text or 'no filter'}): {problem}"
                )

    finished = [job for job in jobs if job["attributes"]["started_at"] and job["attributes"]["completed_at"]]
    spans = {
        job["id"]: (_time(job["attributes"]["started_at"]), _time(job["attributes"]["completed_at"]))
        for job in finished
    }
    per_store: dict[int, int] = {}
    in_order: dict[int, bool] = {}
    for store in stores:
        mine = [job for (s, _), job in zip(plan, jobs, strict=True) if s is store and job["id"] in spans]
        per_store[store.number] = max_overlap(spans[job["id"]] for job in mine)
        by_creation = sorted(mine, key=lambda job: job["attributes"]["created_at"])
        in_order[store.number] = [j["id"] for j in by_creation] == [
            j["id"] for j in sorted(mine, key=lambda job: job["attributes"]["started_at"])
        ]
    overall = max_overlap(spans.values())
    durations = [end - start for start, end in spans.values()]
    waits = [spans[j["id"]][0] - _time(j["attributes"]["created_at"]) for j in finished]
    rows = sum(len(s.expected(f)) for s, f in plan)

    print(
        f"\n{exports} exports across {stores_count} stores ({rows:,} rows in all), posted in {posted:.1f} s"
    )
    print(f"total time, first POST to last job final: {total:.1f} s")
    print(f"throughput: {exports / total * 60:.1f} jobs/min, {rows / total:,.0f} rows/s")
    print(
        f"job run time (started to completed): median {statistics.median(durations):.2f} s, "
        f"max {max(durations):.2f} s; wait while pending: median {statistics.median(waits):.2f} s, "
        f"max {max(waits):.2f} s"
    )
    print(f"most jobs running at once, all stores: {overall}")
    for number, most in per_store.items():
        print(
            f"  store {number}: at most {most} running at once; started in creation order: {in_order[number]}"
        )
    fair = bool(limit) and all(most <= limit for most in per_store.values()) and all(in_order.values())
    if not limit:
        problems.append("the template has no MaxConcurrentExportsPerStore: fairness cannot hold")
    elif not fair:
        problems.append(f"fairness: a store ran more than {limit} at once or out of creation order")
    print(f"fairness (at most {limit or '?'} per store, creation order): {'holds' if fair else 'VIOLATED'}")
    for problem in problems:
        print(f"FAIL {problem}")
    print("OK" if not problems else f"{len(problems)} problems")
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=5)
    parser.add_argument("--products", type=int, default=3000, help="products per store")
    parser.add_argument("--exports", type=int, default=50, help="export requests in all, fired at once")
    parser.add_argument("--part-size", type=int, default=1000, help="products per part")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    return run(args.stores, args.products, args.exports, args.part_size)


if __name__ == "__main__":
    sys.exit(main())
