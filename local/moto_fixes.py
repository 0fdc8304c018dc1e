"""Workarounds for moto gaps that would otherwise make the emulation differ from AWS."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS

_ORIGINAL_START = StepFunctionsParserBackend.start_execution
_LOCK = threading.Lock()
_USERS = 0


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: Any = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    # moto 5.2's ASL backend names an unnamed execution "None", so a second one is ExecutionAlreadyExists.
    # StartExecution without a name gets a UUID on AWS.
    return _ORIGINAL_START(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


def join_workflow_threads(timeout: float) -> bool:
    """Waits for moto's ASL worker threads (executions, Map iterations); True when all have ended."""
    deadline = time.monotonic() + timeout
    for thread in list(TMP_THREADS):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    for thread in [t for t in TMP_THREADS if t.ident is not None and not t.is_alive()]:
        TMP_THREADS.remove(thread)  # moto never prunes the list
    return not any(thread.is_alive() for thread in TMP_THREADS)


def install() -> None:
    global _USERS  # noqa: PLW0603 - reference count of the stacks using the fixes
    with _LOCK:
        _USERS += 1
        StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]


def uninstall() -> None:
    global _USERS  # noqa: PLW0603
    with _LOCK:
        _USERS = max(0, _USERS - 1)
        if _USERS == 0:
            StepFunctionsParserBackend.start_execution = _ORIGINAL_START  # type: ignore[method-assign]
