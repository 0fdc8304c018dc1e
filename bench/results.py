"""bench/results.json: every benchmark merges its own keys into it, so one file holds the whole run.

    from bench.results import merge_results, print_table
    merge_results({"writer_ratio": 0.61})

Keys another benchmark wrote are kept; a key written again takes the new value. The file is
replaced atomically under a lock, so benchmarks run side by side never lose each other's keys.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # The lock lives outside the repository: the results file itself is replaced, not rewritten.
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"bench-results-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_results(path: Path = RESULTS) -> dict[str, Any]:
    if not path.exists():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds {type(loaded).__name__}, not an object")
    return loaded


def merge_results(updates: Mapping[str, Any], path: Path = RESULTS) -> dict[str, Any]:
    """Merge ``updates`` into the results file (other keys untouched); returns the merged results."""
    with _locked(path):
        merged = load_results(path)
        merged.update(updates)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results.", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(dict(sorted(merged.items())), out, indent=2)
            out.write("\n")
        os.replace(temporary, path)
    return merged


def print_table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """Print (measure, value, note) rows as an aligned table under ``title``."""
    widths = [max(len(row[i]) for row in [("measure", "value", "note"), *rows]) for i in range(3)]
    print(title)
    for row in [("measure", "value", "note"), *rows]:
        print(f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]}")
