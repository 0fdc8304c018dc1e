"""LambdaRunner: the template's functions in worker processes, warm and reused, under a concurrency cap.

- A call takes one of the account's concurrent executions (``concurrency``; waiting, not throttled,
  when all are taken), then a warm worker of its function, or starts one (a cold start).
- Workers stay warm for reuse until the runner closes; past ``max_workers`` live processes, the
  least recently used idle worker of any function is ended first, as Lambda reclaims idle
  environments.
- ``Timeout`` is enforced (the worker is killed, the call answers ``Sandbox.Timedout``), and so is
  ``MemorySize``: a watch samples each busy worker's resident memory and kills it past the limit
  (``Runtime.OutOfMemory``). A crashed worker answers ``Runtime.ExitError``.
- Each function's log (its own output between START and END, REPORT lines) goes to
  ``<log_dir>/<LogicalId>.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.runner.workers import FunctionConfig, InitFailed, Worker, WorkerGone, peak_rss_mb

MEMORY_WATCH_SECONDS = 0.02


def default_concurrency() -> int:
    """The local account's concurrency: enough to overlap waiting on I/O, few enough for 2 cores."""
    return max(6, 6 * (os.cpu_count() or 1))


class FunctionError(Exception):
    """An invocation ended with an error payload (Lambda's ``X-Amz-Function-Error: Unhandled``)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(str(payload.get("errorMessage", "")))
        self.payload = payload

    @property
    def error_type(self) -> str:
        return str(self.payload.get("errorType", ""))


@dataclass
class Invocation:
    request_id: str
    payload: bytes  # what Lambda's Invoke returns: the result's JSON, or the error's
    error: bool
    report: dict[str, Any]
    cold: bool
    log: list[str] = field(default_factory=list)  # its lines, START to REPORT (LogType=Tail)


@dataclass
class _Function:
    config: FunctionConfig
    log_path: Path
    idle: list[Worker] = field(default_factory=list)
    init_ms: list[float] = field(default_factory=list)
    log_lock: threading.Lock = field(default_factory=threading.Lock)


class LambdaRunner:
    def __init__(
        self,
        functions: Iterable[FunctionConfig],
        *,
        log_dir: Path,
        concurrency: int | None = None,
        max_workers: int | None = None,
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.functions = {c.logical_id: _Function(c, log_dir / f"{c.logical_id}.log") for c in functions}
        self._by_name = {f.config.name: lid for lid, f in self.functions.items()}
        self.concurrency = concurrency or default_concurrency()
        # Idle workers of every function stay warm: an export touches about a dozen functions.
        self.max_workers = max_workers or 3 * self.concurrency
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._busy: set[Worker] = set()
        self._live = 0
        self._sequence = 0
        self._closed = threading.Event()
        self._watch = threading.Thread(target=self._watch_memory, daemon=True, name="lambda-memory")
        self._watch.start()

    # --- calls ----------------------------------------------------------------------------------

    def logical_id_for(self, name_or_arn: str) -> str | None:
        """``name``, ``name:qualifier`` or ``arn:aws:lambda:region:account:function:name[:qualifier]``."""
        if name_or_arn.startswith("arn:"):
            parts = name_or_arn.split(":")
            name = parts[6] if len(parts) > 6 else name_or_arn
        else:
            name = name_or_arn.split(":", 1)[0]
        return self._by_name.get(name, name if name in self.functions else None)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """A synchronous invoke; the result, or FunctionError with Lambda's error payload."""
        invocation = self.invoke_payload(logical_id, json.dumps(event).encode("utf-8"))
        answer = json.loads(invocation.payload)
        if invocation.error:
            raise FunctionError(answer)
        return answer

    def invoke_payload(self, logical_id: str, payload: bytes, *, tail: bool = False) -> Invocation:
        """What Lambda's Invoke answers for ``payload`` (JSON text), with the invocation's REPORT;
        ``tail``: with its log lines too."""
        function = self.functions[logical_id]
        request_id = str(uuid.uuid4())
        with self._slots:
            try:
                worker, cold = self._take(function)
            except InitFailed as failed:  # Lambda answers the call with the init's error
                error = {**failed.error, "requestId": request_id}
                return Invocation(request_id, json.dumps(error).encode(), True, {}, True)
            try:
                answer = worker.invoke(request_id, payload)
            except WorkerGone as gone:
                log = worker.log_tail(request_id) if tail else []
                self._drop(worker)
                return Invocation(request_id, json.dumps(gone.error).encode(), True, {}, cold, log)
            log = worker.log_tail(request_id) if tail else []
            self._give_back(function, worker)
        report = answer["report"]
        if "error" in answer:
            return Invocation(request_id, json.dumps(answer["error"]).encode(), True, report, cold, log)
        return Invocation(request_id, answer["result"].encode(), False, report, cold, log)

    # --- workers --------------------------------------------------------------------------------

    def _log_to(self, function: _Function) -> Any:
        def write(line: str) -> None:
            with function.log_lock, function.log_path.open("a", encoding="utf-8") as log:
                log.write(line + "\n")

        return write

    def _take(self, function: _Function) -> tuple[Worker, bool]:
        """A warm worker of the function, or a new one (cold: True); InitFailed if its init fails."""
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the Lambda runner is closed")
            if function.idle:
                worker = function.idle.pop()
                self._busy.add(worker)
                return worker, False
            self._evict_for_room()
            self._sequence += 1
            self._live += 1
            sequence = self._sequence
        try:
            worker = Worker(function.config, self._log_to(function), sequence)
        except BaseException:
            with self._lock:
                self._live -= 1
            raise
        with self._lock:
            self._busy.add(worker)
        try:
            function.init_ms.append(worker.wait_ready())
        except InitFailed:
            self._drop(worker)
            raise
        return worker, True

    def _evict_for_room(self) -> None:
        """Ends the least recently used idle worker while the live workers are at the cap (lock held)."""
        while self._live >= self.max_workers:
            idle = [w for f in self.functions.values() for w in f.idle]
            if not idle:
                return  # all busy: the concurrency cap bounds them
            oldest = min(idle, key=lambda w: w.last_used)
            self.functions[oldest.config.logical_id].idle.remove(oldest)
            oldest.close()
            self._live -= 1

    def _give_back(self, function: _Function, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if self._closed.is_set():
                worker.close()
                self._live -= 1
            else:
                function.idle.append(worker)

    def _drop(self, worker: Worker) -> None:
        worker.close()
        with self._lock:
            self._busy.discard(worker)
            self._live -= 1

    def _watch_memory(self) -> None:
        while not self._closed.wait(MEMORY_WATCH_SECONDS):
            with self._lock:
                busy = list(self._busy)
            for worker in busy:
                used = peak_rss_mb(worker.pid)
                worker.peak_mb = max(worker.peak_mb, used)
                if used > worker.config.memory and not worker.out_of_memory:
                    worker.out_of_memory = True
                    worker.kill()

    # --- state ----------------------------------------------------------------------------------

    def init_durations(self) -> dict[str, list[float]]:
        """Init Duration (ms) of every cold start so far, per function."""
        return {lid: list(f.init_ms) for lid, f in self.functions.items() if f.init_ms}

    def busy(self, logical_id: str) -> list[Worker]:
        """The function's workers in the middle of a call."""
        with self._lock:
            return [w for w in self._busy if w.config.logical_id == logical_id]

    def workers(self, logical_id: str) -> list[Worker]:
        """The function's live workers (idle and busy)."""
        with self._lock:
            busy = [w for w in self._busy if w.config.logical_id == logical_id]
            return [*self.functions[logical_id].idle, *busy]

    def close(self) -> None:
        """Ends every worker (busy ones too: their calls answer as if the runtime exited)."""
        self._closed.set()
        with self._lock:
            idle = [w for f in self.functions.values() for w in f.idle]
            for function in self.functions.values():
                function.idle.clear()
            busy = list(self._busy)
            self._live -= len(idle)
        for worker in idle:
            worker.close()
        for worker in busy:
            worker.kill()
        self._watch.join(timeout=5)

    def __enter__(self) -> LambdaRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def running(functions: Iterable[FunctionConfig], **options: Any) -> Iterator[LambdaRunner]:
    runner = LambdaRunner(functions, **options)
    try:
        yield runner
    finally:
        runner.close()
