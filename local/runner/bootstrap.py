"""A Lambda execution environment's runtime, as a worker process of the local runner.

Run by the function's own interpreter in isolated mode (``python3.13 -I -S bootstrap.py ...``), so it
may import nothing but the standard library until it has laid out ``sys.path`` as Lambda does:
the function's code (``/var/task``), then each layer's ``/opt/python``, then the standard library.
Nothing of the runner's own virtualenv is reachable.

It talks to the runner over three inherited pipes (frames of a 4-byte length and JSON):
- ``requests``: one invocation at a time, ``{"id", "event", "deadline", "arn"}`` (event: JSON text);
- ``answers``: ``{"init": ...}`` once the handler is imported, then one answer per invocation;
- ``lifeline``: never written; its end of file means the runner is gone, and the worker exits at once,
  even in the middle of an invocation (the runner killed with SIGKILL leaves no worker behind).
Its stdout and stderr are the function's log; like Lambda's platform it writes START, END and
REPORT lines around each invocation.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import struct
import sys
import threading
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">I")
_STARTED = time.monotonic()


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


def write_frame(fd: int, message: Any) -> None:
    body = json.dumps(message).encode("utf-8")
    os.write(fd, _HEADER.pack(len(body)) + body)


def _watch_lifeline(fd: int) -> None:
    while os.read(fd, 1):
        pass
    os._exit(137)  # the runner is gone


def _max_memory_mb() -> int:
    """The process's peak resident size (VmHWM; not ru_maxrss, which keeps the peak of the process
    this one was forked from before its exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class LambdaContext:
    """What the Python runtime passes as ``context``."""

    def __init__(self, request_id: str, deadline: float, arn: str) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = arn
        self.identity = None
        self.client_context = None
        self._deadline = deadline  # wall clock, seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def error_of(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """The Python runtime's error shape for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def _init_error(exc: BaseException, module: str) -> dict[str, Any]:
    if isinstance(exc, ImportError):
        error = error_of(exc, "Runtime.ImportModuleError")
        error["errorMessage"] = f"Unable to import module '{module}': {exc}"
        return error
    if isinstance(exc, SyntaxError):
        return error_of(exc, "Runtime.UserCodeSyntaxError")
    return error_of(exc)


def main(argv: list[str]) -> int:
    requests, answers, lifeline = (int(fd) for fd in argv[1:4])
    sys.path[:] = [*argv[4:], *(p for p in sys.path[1:] if p)]  # [0] was this file's folder
    threading.Thread(target=_watch_lifeline, args=(lifeline,), daemon=True, name="lifeline").start()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    version = f"python:{sys.version_info.major}.{sys.version_info.minor}"
    print(f"INIT_START Runtime Version: {version} (local runner, pid {os.getpid()})", flush=True)
    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException as exc:
        sys.stdout.flush()
        write_frame(answers, {"init_error": _init_error(exc, module_name)})
        return 1
    init_ms = (time.monotonic() - _STARTED) * 1000
    write_frame(answers, {"init_ms": init_ms})
    memory = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
    first = True
    while (request := read_frame(requests)) is not None:
        request_id = request["id"]
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        started = time.monotonic()
        answer: dict[str, Any]
        try:
            event = json.loads(request["event"]) if request["event"].strip() else {}
            result = handler(event, LambdaContext(request_id, request["deadline"], request["arn"]))
            answer = {"result": json.dumps(result)}
        except Exception as exc:
            error = error_of(exc)
            error["requestId"] = request_id
            answer = {"error": error}
            print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
            traceback.print_exc()
        duration = (time.monotonic() - started) * 1000
        report = {
            "duration_ms": round(duration, 2),
            "billed_ms": max(1, int(duration + 0.999)),
            "memory_mb": int(memory),
            "max_memory_mb": _max_memory_mb(),
        }
        if first:
            report["init_ms"] = round(init_ms, 2)
        answer["report"] = report
        sys.stderr.flush()
        print(f"END RequestId: {request_id}", flush=True)
        print(report_line(request_id, report), flush=True)
        write_frame(answers, answer)
        first = False
    return 0


def report_line(request_id: str, report: dict[str, Any]) -> str:
    """Lambda's REPORT line (the runner writes it too, for an invocation the worker could not end)."""
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {report['duration_ms']:.2f} ms\t"
        f"Billed Duration: {report['billed_ms']} ms\tMemory Size: {report['memory_mb']} MB\t"
        f"Max Memory Used: {report['max_memory_mb']} MB"
    )
    if "init_ms" in report:
        line += f"\tInit Duration: {report['init_ms']:.2f} ms"
    if "status" in report:
        line += f"\tStatus: {report['status']}"
    return line


if __name__ == "__main__":
    sys.exit(main(sys.argv))
