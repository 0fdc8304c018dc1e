"""How the local stack calls its functions, through moto's Lambda API (Step Functions' tasks) or directly
(API Gateway's integrations, tests).

- ``RunnerLambdas``: each function in worker processes of its own (``local.runner``), as it ships:
  the default.
- ``InProcessLambdas``: the handlers imported into this process, for the tests that must reach inside
  a call (fault injection through ``intercept``); every function then shares this process's Python,
  packages and ``os.environ``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from moto.awslambda_simple.models import LambdaSimpleBackend

from local.runner.runner import LambdaRunner
from local.template import FunctionSpec

Handler = Callable[[Any, Any], Any]
CallReal = Callable[[Any], Any]
Intercept = Callable[[Any, "LambdaContext", CallReal], Any]


@dataclass
class LambdaContext:
    """What the Python runtime passes as ``context``."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int = 3
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class DeployedFunction:
    spec: FunctionSpec
    name: str  # physical function name
    arn: str


class FunctionTimedOut(Exception):
    """Raised (by a fault-injecting intercept) for a function that ran out of time: Lambda answers
    with its timeout error, which Step Functions reports as ``Sandbox.Timedout``."""

    def __init__(self, timeout_seconds: float = 900) -> None:
        super().__init__(f"Task timed out after {timeout_seconds:.2f} seconds")


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The body the Python runtime returns for an unhandled exception (Lambda's own for a timeout)."""
    if isinstance(exc, FunctionTimedOut):
        return {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {exc}"}
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def _function_name(name_or_arn: str) -> str:
    """``name``, ``name:qualifier`` or ``arn:aws:lambda:region:account:function:name[:qualifier]``."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn.split(":", 1)[0]


def _load_module(spec: FunctionSpec) -> ModuleType:
    """Imports ``<code_uri>/<module>.py`` as ``fn_<logical id>`` with the code directory on sys.path.

    Sibling modules the handler imports are dropped from sys.modules afterwards so that two functions
    may each have, say, their own ``schemas.py``.
    """
    module_path, _, _ = spec.handler.rpartition(".")
    file = spec.code_uri / (module_path.replace(".", "/") + ".py")
    if not file.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler module {file} does not exist")
    name = f"fn_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(module_spec)
    code_dir = str(spec.code_uri)
    before = set(sys.modules)
    sys.path.insert(0, code_dir)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(code_dir)
        for added in set(sys.modules) - before - {name}:
            origin = getattr(sys.modules[added], "__file__", None)
            if origin and Path(origin).resolve().is_relative_to(spec.code_uri):
                del sys.modules[added]
    return module


class Lambdas(Protocol):
    """What the stack, its API Gateway and moto's Lambda API call functions through."""

    functions: dict[str, DeployedFunction]
    in_process: bool

    def logical_id_for(self, name_or_arn: str) -> str | None: ...

    def invoke(self, logical_id: str, event: Any) -> Any:
        """The result; the function's error raised (``FunctionError`` from a worker)."""

    def invoke_payload(self, logical_id: str, payload: bytes, response_headers: Any) -> bytes:
        """What Lambda's Invoke returns; an error sets ``x-amz-function-error``."""

    def intercept(self, logical_id: str, fn: Intercept) -> None: ...

    def clear_intercepts(self) -> None: ...

    def close(self) -> None: ...


class InProcessLambdas:
    """Calls the template's handlers in this process (fault injection reaches inside the call)."""

    in_process = True

    def __init__(self, functions: Iterable[DeployedFunction]) -> None:
        self.functions: dict[str, DeployedFunction] = {f.spec.logical_id: f for f in functions}
        self._by_name = {f.name: f.spec.logical_id for f in self.functions.values()}
        self._handlers: dict[str, Handler] = {}
        self._intercepts: dict[str, Intercept] = {}
        self._lock = threading.Lock()

    # --- handlers -----------------------------------------------------------------------------

    def handler(self, logical_id: str) -> Handler:
        """The function's real handler, imported on first use."""
        with self._lock:
            if logical_id not in self._handlers:
                spec = self.functions[logical_id].spec
                attribute = spec.handler.rpartition(".")[2]
                handler: Handler = getattr(_load_module(spec), attribute)
                self._handlers[logical_id] = handler
            return self._handlers[logical_id]

    def logical_id_for(self, name_or_arn: str) -> str | None:
        return self._by_name.get(_function_name(name_or_arn))

    def context_for(self, logical_id: str) -> LambdaContext:
        function = self.functions[logical_id]
        return LambdaContext(
            function_name=function.name,
            memory_limit_in_mb=function.spec.memory,
            invoked_function_arn=function.arn,
            timeout_seconds=function.spec.timeout,
        )

    def intercept(self, logical_id: str, fn: Intercept) -> None:
        """Routes calls of ``logical_id`` to ``fn(event, context, call_real)`` (fault injection)."""
        if logical_id not in self.functions:
            raise KeyError(logical_id)
        self._intercepts[logical_id] = fn

    def clear_intercepts(self) -> None:
        self._intercepts.clear()

    def close(self) -> None:
        pass

    def _call(self, logical_id: str, event: Any, context: LambdaContext) -> Any:
        def call_real(real_event: Any) -> Any:
            return self.handler(logical_id)(real_event, context)

        hook = self._intercepts.get(logical_id)
        return hook(event, context, call_real) if hook else call_real(event)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Direct synchronous invoke; the event and result pass through JSON as in Lambda.

        The handler's exception propagates as is.
        """
        context = self.context_for(logical_id)
        result = self._call(logical_id, json.loads(json.dumps(event)), context)
        return json.loads(json.dumps(result))

    def invoke_payload(self, logical_id: str, payload: bytes, response_headers: Any) -> bytes:
        """What Lambda's Invoke returns for ``payload``; an unhandled error becomes an error payload."""
        context = self.context_for(logical_id)
        try:
            event = json.loads(payload) if payload.strip() else {}
            result = json.dumps(self._call(logical_id, event, context))
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            result = json.dumps(error_payload(exc, context.aws_request_id))
        response_headers["x-amzn-RequestId"] = context.aws_request_id
        return result.encode("utf-8")


class RunnerLambdas:
    """Calls the template's functions in the runner's worker processes."""

    in_process = False

    def __init__(self, functions: Iterable[DeployedFunction], runner: LambdaRunner) -> None:
        self.functions: dict[str, DeployedFunction] = {f.spec.logical_id: f for f in functions}
        self.runner = runner

    def logical_id_for(self, name_or_arn: str) -> str | None:
        return self.runner.logical_id_for(name_or_arn)

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.runner.invoke(logical_id, event)

    def invoke_payload(self, logical_id: str, payload: bytes, response_headers: Any) -> bytes:
        invocation = self.runner.invoke_payload(logical_id, payload if payload.strip() else b"{}")
        if invocation.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amzn-RequestId"] = invocation.request_id
        return invocation.payload

    def intercept(self, logical_id: str, fn: Intercept) -> None:
        raise NotImplementedError(
            "fault injection reaches inside a call: run this stack with lambdas='in-process'"
        )

    def clear_intercepts(self) -> None:
        pass

    def close(self) -> None:
        self.runner.close()


@contextlib.contextmanager
def routed_from_moto(lambdas: Lambdas) -> Iterator[Lambdas]:
    """Routes moto's no-Docker Lambda ``invoke`` of these functions to ``lambdas`` meanwhile."""
    install(lambdas)
    try:
        yield lambdas
    finally:
        uninstall(lambdas)


_ACTIVE: list[Lambdas] = []
_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke
_PATCH_LOCK = threading.Lock()


def _header(headers: Any, name: str) -> str | None:
    items: Iterable[tuple[str, Any]] = headers.items() if isinstance(headers, Mapping) else []
    return next((str(v) for k, v in items if k.lower() == name.lower()), None)


def _patched_invoke(  # noqa: PLR0917 - LambdaSimpleBackend.invoke's signature
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    dispatcher = next((d for d in reversed(_ACTIVE) if d.logical_id_for(function_name)), None)
    if dispatcher is None:
        return _ORIGINAL_INVOKE(self, function_name, qualifier, body, headers, response_headers)
    logical_id = dispatcher.logical_id_for(function_name) or ""
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(
            target=dispatcher.invoke_payload, args=(logical_id, payload, {}), daemon=True
        ).start()
        return b""
    result = dispatcher.invoke_payload(logical_id, payload, response_headers)
    response_headers["Content-Length"] = str(len(result))
    return result


def install(dispatcher: Lambdas) -> None:
    """Routes moto's no-Docker Lambda ``invoke`` of ``dispatcher``'s functions to it."""
    with _PATCH_LOCK:
        if dispatcher not in _ACTIVE:
            _ACTIVE.append(dispatcher)
        LambdaSimpleBackend.invoke = _patched_invoke  # type: ignore[method-assign]


def uninstall(dispatcher: Lambdas) -> None:
    with _PATCH_LOCK:
        if dispatcher in _ACTIVE:
            _ACTIVE.remove(dispatcher)
        if not _ACTIVE:
            LambdaSimpleBackend.invoke = _ORIGINAL_INVOKE  # type: ignore[method-assign]
