"""Reading several key ranges at once while handing their items on in order.

A part's ranges, or the product list's shards, are read one Query page after another. When a
part spans many shards (the last, mixed part; any part of a selective filter, whose matches are
spread thin over the store) its writer would otherwise wait for every page of every range in
turn: a 1 %-filter part of a 10-million-product store spans about 5 million products, 10,000
pages, too long for one Lambda. Here up to ``at_once`` ranges are read ahead on threads while
the caller takes the items range by range, in the order it would have read them.

Memory stays bounded: each range read ahead holds at most ``depth`` chunks of ``chunk`` items
before its thread waits for the caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(
    sources: Sequence[Callable[[], Iterable[T]]], *, at_once: int, chunk: int = 256, depth: int = 4
) -> Iterator[T]:
    """The items of ``sources()`` one source after another, as ``for s in sources: yield from s()``
    would give them, with up to ``at_once`` sources read at once. A source's error is raised
    where its items would have ended; closing the iterator early stops the readers."""
    if at_once <= 1 or len(sources) <= 1:
        for source in sources:
            yield from source()
        return
    queues: list[queue.Queue[object]] = [queue.Queue(maxsize=depth) for _ in sources]
    stopped = threading.Event()

    def put(box: queue.Queue[object], value: object) -> bool:
        while not stopped.is_set():
            try:
                box.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(index: int) -> None:
        box = queues[index]
        try:
            batch: list[T] = []
            for item in sources[index]():
                batch.append(item)
                if len(batch) == chunk:
                    if not put(box, batch):
                        return
                    batch = []
            if batch and not put(box, batch):
                return
            put(box, _END)
        except BaseException as error:
            put(box, _Failed(error))

    # The pool starts the sources in order, so the one the caller waits for is always running:
    # at most at_once - 1 later ones are ahead of it.
    pool = ThreadPoolExecutor(max_workers=min(at_once, len(sources)))
    try:
        for index in range(len(sources)):
            pool.submit(read, index)
        for box in queues:
            while True:
                value = box.get()
                if value is _END:
                    break
                if isinstance(value, _Failed):
                    raise value.error
                yield from value  # type: ignore[misc]  # a chunk of items
    finally:
        stopped.set()
        pool.shutdown(wait=True, cancel_futures=True)
