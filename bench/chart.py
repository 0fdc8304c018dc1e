"""The benchmark chart, drawn from bench/results.json (nothing is measured here).

    .venv/bin/python bench/chart.py [--results bench/results.json] [--out bench/results.png]

Panels: products/s per catalogue size for the export workflow and the user's script, with the
ratio of their wall times; the workflow's time by phase next to the script's time; and, when the
part-writer benchmarks have written their keys, the writer against ``csv.writer`` and the peak
memory of one part. Needs matplotlib (bench/requirements.txt, installed by ``make bench``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import RESULTS, load_results  # noqa: E402

PHASES = (("queue", "#bbbbbb"), ("plan", "#e69f00"), ("parts", "#0072b2"), ("finalize", "#009e73"))
WORKFLOW_COLOUR, SCRIPT_COLOUR = "#0072b2", "#d55e00"


def _sizes(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    sizes = results.get("end_to_end", {}).get("sizes", {})
    return sorted(sizes.items(), key=lambda entry: int(entry[1]["products"]))


def _throughput(axis: Any, sizes: list[tuple[str, dict[str, Any]]]) -> None:
    positions = range(len(sizes))
    workflow = [run["workflow"]["products_per_second"] for _, run in sizes]
    script = [run["script"]["products_per_second"] for _, run in sizes]
    axis.bar([p - 0.2 for p in positions], workflow, 0.4, label="export workflow", color=WORKFLOW_COLOUR)
    axis.bar([p + 0.2 for p in positions], script, 0.4, label="user's script", color=SCRIPT_COLOUR)
    for position, (_, run) in zip(positions, sizes, strict=True):
        top = max(run["workflow"]["products_per_second"], run["script"]["products_per_second"])
        axis.annotate(
            f"time ratio {run['workflow_vs_script']:.2f}",
            (position, top),
            ha="center",
            va="bottom",
            xytext=(0, 4),
            textcoords="offset points",
            fontsize=8,
        )
    axis.set_xticks(list(positions), [f"{run['products']:,}" for _, run in sizes])
    axis.set_xlabel("products")
    axis.set_ylabel("products / s (POST to success; script start to last upload)")
    axis.set_title("End to end on the local stack")
    axis.legend(loc="upper left", fontsize=8)
    axis.margins(y=0.15)


def _phases(axis: Any, sizes: list[tuple[str, dict[str, Any]]]) -> None:
    """Seconds per 100,000 products, so that every size fits one linear scale."""
    labels = []
    for index, (_, run) in enumerate(sizes):
        scale = 100_000 / int(run["products"])
        labels += [f"{run['products']:,} workflow", f"{run['products']:,} script"]
        left = 0.0
        for phase, colour in PHASES:
            width = float(run["workflow"]["phases"][phase]) * scale
            axis.barh(2 * index, width, left=left, color=colour, label=phase if index == 0 else None)
            left += width
        seconds = float(run["script"]["seconds"]) * scale
        axis.barh(2 * index + 1, seconds, color=SCRIPT_COLOUR, label="script" if index == 0 else None)
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("seconds per 100,000 products")
    axis.set_title("Where the time goes (workflow by phase)")
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=5)


def _writer(axis: Any, results: dict[str, Any]) -> None:
    bars = [
        ("part writer", results.get("writer_rows_per_s"), WORKFLOW_COLOUR),
        ("csv.writer (limit)", results.get("csv_writer_rows_per_s"), "#999999"),
    ]
    shown = [(name, value, colour) for name, value, colour in bars if value]
    if not shown:
        axis.text(0.5, 0.5, "no part-writer results yet", ha="center", va="center")
        axis.set_axis_off()
        return
    axis.bar([name for name, _, _ in shown], [v for _, v, _ in shown], color=[c for _, _, c in shown])
    ratio = results.get("writer_ratio")
    axis.set_title(f"Part writer vs csv.writer{f' (ratio {ratio:.2f})' if ratio else ''}")
    axis.set_ylabel("rows / s")


def _memory(axis: Any, results: dict[str, Any]) -> None:
    peaks = sorted(
        (int(key.rsplit("_", 1)[1]), float(value))
        for key, value in results.items()
        if key.startswith("memory_peak_mib_") and key.rsplit("_", 1)[1].isdigit()
    )
    if not peaks:
        growth = results.get("memory_growth_mib")
        text = f"memory growth 10k -> 200k: {growth} MiB" if growth is not None else "no memory results yet"
        axis.text(0.5, 0.5, text, ha="center", va="center")
        axis.set_axis_off()
        return
    axis.plot([p for p, _ in peaks], [m for _, m in peaks], marker="o", color=WORKFLOW_COLOUR)
    axis.set_xscale("log")
    axis.set_xlabel("products in the part")
    axis.set_ylabel("peak RSS (MiB)")
    axis.set_ylim(bottom=0)
    growth = results.get("memory_growth_mib")
    axis.set_title(f"Memory of one part{f' (growth {growth:.1f} MiB)' if growth is not None else ''}")


def draw(results: dict[str, Any], out: Path) -> None:
    figure, axes = plt.subplots(2, 2, figsize=(13, 9))
    sizes = _sizes(results)
    if sizes:
        _throughput(axes[0][0], sizes)
        _phases(axes[0][1], sizes)
    else:
        for axis in axes[0]:
            axis.text(0.5, 0.5, "no end-to-end results yet", ha="center", va="center")
            axis.set_axis_off()
    _writer(axes[1][0], results)
    _memory(axes[1][1], results)
    measured = max((run.get("measured_at", "") for _, run in sizes), default="")
    figure.suptitle(f"Product export benchmarks{f' ({measured})' if measured else ''}")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results.png"))
    args = parser.parse_args(argv)
    draw(load_results(Path(args.results)), Path(args.out))
    print(f"chart written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
