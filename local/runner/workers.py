"""One worker process: a function's execution environment, started cold and reused warm."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local.runner.bootstrap import read_frame, report_line, write_frame

BOOTSTRAP = Path(__file__).resolve().with_name("bootstrap.py")


@dataclass(frozen=True)
class FunctionConfig:
    """Everything a worker of one function is started with."""

    logical_id: str
    name: str  # the physical function name
    arn: str
    python: str  # the Runtime's interpreter
    sys_path: tuple[Path, ...]  # CodeUri, then the layers' /opt/python
    environment: Mapping[str, str]  # the whole process environment: the function's own and Lambda's
    timeout: int  # seconds
    memory: int  # MB


class WorkerGone(Exception):
    """The worker died during an invocation: ``error`` is what Lambda answers for it."""

    def __init__(self, error: dict[str, Any], status: str) -> None:
        super().__init__(error["errorMessage"])
        self.error = error
        self.status = status  # REPORT's Status: timeout, error


class InitFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["errorMessage"])
        self.error = error


def peak_rss_mb(pid: int) -> float:
    """The largest resident size a process has had (the kernel's high-water mark, so a spike between
    two samples counts, as it does against Lambda's memory limit); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


class Worker:
    """A process running ``bootstrap.py`` for one function, one invocation at a time."""

    def __init__(self, config: FunctionConfig, log: Callable[[str], None], sequence: int) -> None:
        self.config = config
        self.sequence = sequence
        self._log = log
        self.out_of_memory = False
        self._tail: list[str] = []
        self._tail_changed = threading.Condition()
        self.peak_mb = 0.0  # the largest resident size the memory watch saw
        self.timed_out = False
        self.init_ms: float | None = None
        self.invocations = 0
        self.last_used = time.monotonic()
        requests_r, self._requests = os.pipe()
        self._answers, answers_w = os.pipe()
        lifeline_r, self._lifeline = os.pipe()
        for fd in (self._requests, self._answers, self._lifeline):
            os.set_inheritable(fd, False)
        try:
            self.process = subprocess.Popen(
                [
                    config.python,
                    "-I",
                    "-S",
                    str(BOOTSTRAP),
                    str(requests_r),
                    str(answers_w),
                    str(lifeline_r),
                    *map(str, config.sys_path),
                ],
                env=dict(config.environment),
                cwd=str(config.sys_path[0]),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(requests_r, answers_w, lifeline_r),
            )
        finally:
            for fd in (requests_r, answers_w, lifeline_r):
                os.close(fd)
        assert self.process.stdout is not None
        self._log_thread = threading.Thread(
            target=self._copy_log, args=(self.process.stdout,), daemon=True, name=f"log-{config.logical_id}"
        )
        self._log_thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _copy_log(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._log(line)
            with self._tail_changed:
                self._tail.append(line)
                self._tail_changed.notify_all()

    def log_tail(self, request_id: str, wait: float = 2.0) -> list[str]:
        """This worker's log lines of its last invocation, through its REPORT line (Invoke's
        ``LogType=Tail``); the copier may lag the answer by a moment."""
        report = f"REPORT RequestId: {request_id}"
        with self._tail_changed:
            self._tail_changed.wait_for(lambda: any(x.startswith(report) for x in self._tail), wait)
            return list(self._tail)

    def _log_own(self, line: str) -> None:
        """A line the runner writes for the worker (END and REPORT of a call it could not end)."""
        self._log(line)
        with self._tail_changed:
            self._tail.append(line)
            self._tail_changed.notify_all()

    def wait_ready(self) -> float:
        """Blocks until the handler is imported; its Init Duration (ms), or InitFailed."""
        message = self._read(deadline=time.monotonic() + max(10.0, self.config.timeout))
        if message is None or "init_error" in message:
            self.kill()
            reason = self._exit_reason()
            self.close()
            error = (message or {}).get("init_error") or {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited with error: {reason}",
            }
            raise InitFailed(error)
        self.init_ms = float(message["init_ms"])
        return self.init_ms

    def invoke(self, request_id: str, payload: bytes) -> dict[str, Any]:
        """The worker's answer (``result`` or ``error``, and ``report``); WorkerGone if it died."""
        self.invocations += 1
        with self._tail_changed:
            self._tail.clear()
        timeout = self.config.timeout
        started = time.monotonic()
        request = {
            "id": request_id,
            "event": payload.decode("utf-8"),
            "deadline": time.time() + timeout,
            "arn": self.config.arn,
        }
        try:
            write_frame(self._requests, request)
            answer = self._read(deadline=started + timeout)
        except OSError:
            answer = None
        self.last_used = time.monotonic()
        if answer is not None:
            return dict(answer)
        timed_out = self.timed_out and not self.out_of_memory
        self.kill()
        reason = self._exit_reason()
        self.close()
        duration = (time.monotonic() - started) * 1000
        if timed_out:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
            }
            status = "timeout"
        elif self.out_of_memory:
            error = {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
            }
            status = "error"
        else:
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
            }
            status = "error"
        self._log_thread.join(timeout=5)  # the worker's last lines before ours
        report = {
            "duration_ms": round(duration, 2),
            "billed_ms": max(1, int(duration + 0.999)),
            "memory_mb": self.config.memory,
            "max_memory_mb": int(self.peak_mb),
            "status": status,
        }
        self._log_own(f"END RequestId: {request_id}")
        self._log_own(report_line(request_id, report))
        raise WorkerGone(error, status)

    def _read(self, deadline: float) -> Any:
        """The next frame from the worker, or None when it died or the deadline passed (timed_out)."""
        poller = select.poll()
        poller.register(self._answers, select.POLLIN | select.POLLHUP)
        self.timed_out = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                return None
            if poller.poll(min(left, 1.0) * 1000):
                return read_frame(self._answers)

    def _exit_reason(self) -> str:
        code = self.process.wait(timeout=5)
        if code < 0:
            return f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        return f"exit status {code}"

    def kill(self) -> None:
        """SIGKILL (safe from any thread: the memory watch uses it)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def close(self) -> None:
        """Ends the worker and releases its pipes; only by the thread that owns it."""
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for fd in (self._requests, self._answers, self._lifeline):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._requests = self._answers = self._lifeline = -1
