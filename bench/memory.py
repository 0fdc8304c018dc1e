"""Peak memory of writing one part, for growing parts: memory must stay flat (prints a table, merges results).

    .venv/bin/python bench/memory.py [--sizes 10000,50000,200000]

Each size runs in a fresh Python process that writes one part of that many products of about
2 KB (as stored) with the production WritePart step, ``ExportService.write_part``: Query pages
from ``bench/part_source.QueryServer`` (1 MB pages built for each request and dropped, so the
source holds one page at a time, as DynamoDB's answers do), and the production
``MultipartUpload`` sending 8 MiB parts to an S3 stand-in that only counts their bytes. The
process reports its peak resident set size (``ru_maxrss``) before and after the write.

Results merged into bench/results.json: memory_peak_mib_<size> (MiB, one key per size),
memory_growth_mib (the peak at the largest size minus the peak at the smallest; target < 32 MiB),
memory_lambda_mib (512) and memory_50k_headroom_mib (512 MiB minus the 50,000-product peak).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from bench.part_source import Catalogue, export_service, served, write_part  # noqa: E402
from bench.results import merge_results, print_table  # noqa: E402

LAMBDA_MIB = 512
GROWTH_TARGET_MIB = 32


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(count: int) -> dict[str, float | int]:
    """Write one part of ``count`` products in this process; its figures."""
    catalogue = Catalogue(count)
    with served(catalogue, keep_pages=False) as (queries, uploads):
        service, _ = export_service(catalogue, multipart=True)
        before = peak_rss_mib()
        started = time.perf_counter()
        result = write_part(service, catalogue)
        seconds = time.perf_counter() - started
        after = peak_rss_mib()
    # S3 receives the CSV bytes plus botocore's checksum trailers (aws-chunked bodies).
    if result["rows"] != count or uploads.bytes < result["bytes"]:
        raise SystemExit(f"wrote {result['rows']} rows, {uploads.bytes} bytes uploaded of {result['bytes']}")
    return {
        "products": count,
        "peak_before_mib": round(before, 1),
        "peak_mib": round(after, 1),
        "csv_bytes": int(result["bytes"]),
        "upload_parts": uploads.parts,
        "query_pages": queries.requests,
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="do not merge into bench/results.json")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0

    sizes = sorted(int(size) for size in args.sizes.split(","))
    figures = []
    for size in sizes:
        run = subprocess.run(
            [sys.executable, __file__, "--child", str(size)], capture_output=True, text=True, check=False
        )
        if run.returncode:
            raise SystemExit(f"the {size:,}-product run failed:\n{run.stderr}")
        figures.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(f"  {size:>9,} products: peak {figures[-1]['peak_mib']:.1f} MiB", flush=True)

    growth = figures[-1]["peak_mib"] - figures[0]["peak_mib"]
    results: dict[str, object] = {f"memory_peak_mib_{f['products']}": f["peak_mib"] for f in figures}
    results["memory_growth_mib"] = round(growth, 1)
    rows = [
        (
            f"memory_peak_mib_{f['products']}",
            f"{f['peak_mib']:.1f}",
            f"before the write {f['peak_before_mib']:.1f} MiB; {f['csv_bytes'] / 2**20:,.0f} MiB of CSV "
            f"in {f['upload_parts']} upload parts, {f['query_pages']} Query pages, {f['seconds']:.0f} s",
        )
        for f in figures
    ]
    rows.append(
        (
            "memory_growth_mib",
            f"{growth:.1f}",
            f"{figures[-1]['products']:,} vs {figures[0]['products']:,}, target < {GROWTH_TARGET_MIB}",
        )
    )
    fifty = next((f for f in figures if f["products"] == 50_000), None)
    if fifty is not None:
        headroom = LAMBDA_MIB - fifty["peak_mib"]
        results |= {"memory_lambda_mib": LAMBDA_MIB, "memory_50k_headroom_mib": round(headroom, 1)}
        rows.append(
            ("memory_50k_headroom_mib", f"{headroom:.1f}", f"a {LAMBDA_MIB} MB Lambda minus the 50,000 peak")
        )
    print_table("Part writer memory: peak RSS of one process writing one part", rows)
    if not args.no_save:
        merge_results(results)
        print(f"merged into {ROOT / 'bench' / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
