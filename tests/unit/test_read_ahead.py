"""read_ahead hands on every source's items in order while reading several sources at once, raises
a source's error where its items end, keeps memory bounded and stops its readers when closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from product_export.catalogue.read_ahead import read_ahead


def _source(items: list[int]) -> Callable[[], Iterator[int]]:
    def read() -> Iterator[int]:
        for item in items:
            if item % 7 == 0:
                time.sleep(0.0005)  # readers finish out of order
            yield item

    return read


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 10_000), max_size=60), max_size=12),
    st.integers(1, 6),
    st.integers(1, 5),
)
def test_items_come_in_source_order(sources: list[list[int]], at_once: int, chunk: int) -> None:
    read = read_ahead([_source(items) for items in sources], at_once=at_once, chunk=chunk, depth=2)
    assert list(read) == [item for items in sources for item in items]


def test_a_failing_source_raises_after_the_items_before_it() -> None:
    def broken() -> Iterator[int]:
        yield 3
        raise RuntimeError("page refused")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="page refused"):
        for item in read_ahead([_source([1, 2]), broken, _source([4])], at_once=3, chunk=1):
            seen.append(item)
    assert seen == [1, 2, 3]


def test_readers_stay_a_bounded_way_ahead_and_stop_when_closed() -> None:
    produced = [0, 0, 0]
    lock = threading.Lock()

    def counting(index: int) -> Callable[[], Iterator[int]]:
        def read() -> Iterator[int]:
            for item in range(10_000):
                with lock:
                    produced[index] += 1
                yield item

        return read

    read = read_ahead([counting(n) for n in range(3)], at_once=3, chunk=10, depth=2)
    assert next(read) == 0
    time.sleep(0.3)  # give the readers time to run as far ahead as they may
    with lock:
        ahead = list(produced)
    # The caller's chunk, the queue's depth chunks and one more in the reader's hand.
    assert all(count <= (1 + 2 + 1) * 10 for count in ahead), ahead
    read.close()
    with lock:
        at_close = list(produced)
    time.sleep(0.3)
    with lock:
        assert produced == at_close, "no reader goes on once closed"
    assert not [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor") and t.is_alive()]
