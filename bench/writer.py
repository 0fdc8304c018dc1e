"""Part writer throughput against the limit, measured in one run (prints a table, merges results).

    .venv/bin/python bench/writer.py [--rows 20000] [--rounds 9] [--profile]

Writer: the production WritePart step (``ExportService.write_part``) over one part of ``--rows``
products of about 2 KB, from DynamoDB Query response bodies (the JSON bytes DynamoDB sends, 1 MB
pages, built once and held in memory) through the boto3 client, the before-parse hook, decoding,
the filter (``eq(status,live)``) and the CSV writer, to the S3 uploader reduced to a sink that only
counts bytes. Limit: Python's ``csv.writer`` writing the same rows, as prebuilt tuples of the same
cells, to a null sink. Rounds alternate between the two; each takes its best round.

Before timing, the writer's CSV is checked to be byte for byte the limit's CSV (same header and
rows), so the two really write the same thing.

Times are CPU seconds of this process (see ``best_of``). Results merged into bench/results.json:
writer_ratio, writer_rows_per_s, csv_writer_rows_per_s, writer_with_upload_rows_per_s (the same
write_part through the production MultipartUpload: SHA-256 and upload_part calls to a stand-in S3),
writer_rows, writer_item_bytes and writer_load_average (the machine's 1-minute load average before
and after). ``--profile`` prints where one writer run spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import io
import json
import os
import pstats
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.part_source import Catalogue, export_service, served, write_part  # noqa: E402
from bench.results import merge_results, print_table  # noqa: E402
from product_export.adapters.dynamo_json import decode_item  # noqa: E402
from product_export.export.columns import row_renderer  # noqa: E402
from product_export.export.writer import LINE_TERMINATOR  # noqa: E402


class NullSink:
    """A file whose write discards at C speed (csv.writer calls it once per row)."""

    def __init__(self) -> None:
        self.write = deque(maxlen=0).append


def reference_csv(header: list[str], rows: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_TERMINATOR)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def best_of(rounds: int, runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Each run's best CPU time (seconds) over ``rounds`` alternating rounds.

    CPU time of this process, not wall time: both runs are single-threaded and wait for nothing
    (no I/O), so their CPU time is their work, while wall time on a shared machine also counts
    the time other processes held the cores.
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            started = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - started)
    return best


def profile(run: Callable[[], Any], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--profile", action="store_true", help="print a profile of one writer run")
    parser.add_argument("--no-save", action="store_true", help="do not merge into bench/results.json")
    args = parser.parse_args(argv)

    catalogue = Catalogue(args.rows)
    columns = catalogue.columns()
    render = row_renderer(columns)
    typed = [catalogue.typed(number) for number in range(args.rows)]
    item_bytes = (
        sum(len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) for item in typed)
        / args.rows
    )
    prebuilt = [tuple(render(decode_item(item))) for item in typed]
    del typed

    with served(catalogue, keep_pages=True) as (queries, _):
        service, bucket = export_service(catalogue, multipart=False)
        bucket.capture = True
        result = write_part(service, catalogue)  # also builds the pages the timed runs are served
        bucket.capture = False
        written = bucket.last_upload.getvalue()
        expected = reference_csv([column.header for column in columns], prebuilt)
        if result["rows"] != args.rows or written != expected:
            raise SystemExit("the writer's CSV differs from the reference CSV of the same rows")
        pages, body_bytes = queries.requests, queries.body_bytes
        uploading, _ = export_service(catalogue, multipart=True)

        def writer_run() -> None:
            assert write_part(service, catalogue)["rows"] == args.rows

        def uploading_run() -> None:
            assert write_part(uploading, catalogue)["rows"] == args.rows

        def limit_run() -> None:
            csv.writer(NullSink(), lineterminator=LINE_TERMINATOR).writerows(prebuilt)

        if args.profile:
            profile(writer_run, 25)
        load_before = os.getloadavg()[0]
        best = best_of(args.rounds, {"limit": limit_run, "writer": writer_run, "uploading": uploading_run})
        load_after = os.getloadavg()[0]

    writer_rate = args.rows / best["writer"]
    limit_rate = args.rows / best["limit"]
    ratio = writer_rate / limit_rate
    uploading_rate = args.rows / best["uploading"]
    results = {
        "writer_ratio": round(ratio, 3),
        "writer_rows_per_s": round(writer_rate),
        "csv_writer_rows_per_s": round(limit_rate),
        "writer_with_upload_rows_per_s": round(uploading_rate),
        "writer_rows": args.rows,
        "writer_item_bytes": round(item_bytes),
        "writer_load_average": [round(load_before, 1), round(load_after, 1)],
    }
    print_table(
        f"Part writer: {args.rows:,} products of ~{item_bytes:,.0f} bytes stored, {len(columns)} columns, "
        f"{pages} Query pages of ~{body_bytes / pages / 1e6:.2f} MB, best of {args.rounds} rounds "
        f"(load average {load_before:.1f} -> {load_after:.1f})",
        [
            ("csv_writer_rows_per_s", f"{limit_rate:,.0f}", "csv.writer, prebuilt tuples, null sink"),
            ("writer_rows_per_s", f"{writer_rate:,.0f}", "write_part: Query bodies -> CSV -> counting sink"),
            ("writer_ratio", f"{ratio:.2f}", "target >= 0.50"),
            (
                "writer_with_upload_rows_per_s",
                f"{uploading_rate:,.0f}",
                "the same, through MultipartUpload (SHA-256, 8 MiB upload_part calls to a stand-in S3)",
            ),
        ],
    )
    if not args.no_save:
        merge_results(results)
        print(f"merged into {ROOT / 'bench' / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
