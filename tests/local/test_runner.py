"""The Lambda runner on throwaway functions: processes, warm reuse, limits, errors and logs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.runner.interpreter import RuntimeMissing, runtime_python
from local.runner.runner import FunctionError, LambdaRunner
from local.runner.workers import FunctionConfig

HANDLER = """
import json, os, sys, time

LOADED = time.time()
print("init line")
if os.environ.get("FAIL_INIT"):
    import not_a_module_anyone_has


def lambda_handler(event, context):
    print("handling", event.get("op"))
    op = event.get("op")
    if op == "sleep":
        time.sleep(event["seconds"])
    if op == "allocate":
        block = bytearray(event["mb"] * 2**20)
        block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page: resident, not just reserved
        time.sleep(1)
    if op == "raise":
        raise ValueError("bad input")
    if op == "exit":
        os._exit(3)
    if op == "import":
        __import__(event["module"])
    return {
        "pid": os.getpid(),
        "loaded": LOADED,
        "environment": dict(os.environ),
        "path": sys.path,
        "version": list(sys.version_info[:2]),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
    }
"""


def config(code: Path, *, timeout: int = 5, memory: int = 128, **environment: str) -> FunctionConfig:
    name = "toy-function"
    return FunctionConfig(
        logical_id="ToyFunction",
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        python=runtime_python("python3.13"),
        sys_path=(code,),
        environment={
            "_HANDLER": "app.lambda_handler",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "OWN_SETTING": "mine",
            **environment,
        },
        timeout=timeout,
        memory=memory,
    )


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    (folder / "app.py").write_text(HANDLER, encoding="utf-8")
    return folder


@pytest.fixture
def runner(code: Path, tmp_path: Path) -> Iterator[LambdaRunner]:
    with LambdaRunner([config(code)], log_dir=tmp_path / "logs", concurrency=2) as created:
        yield created


def test_a_function_runs_in_its_runtime_with_only_its_own_environment(
    runner: LambdaRunner, code: Path
) -> None:
    os.environ["PARENT_ONLY_SETTING"] = "leaks"
    try:
        answer = runner.invoke("ToyFunction", {})
    finally:
        del os.environ["PARENT_ONLY_SETTING"]
    assert answer["pid"] != os.getpid()
    assert answer["version"] == [3, 13]
    assert answer["environment"]["OWN_SETTING"] == "mine"
    assert "PARENT_ONLY_SETTING" not in answer["environment"]
    assert not any(".venv" in entry or "site-packages" in entry for entry in answer["path"])
    assert answer["path"][0] == str(code)  # /var/task first
    assert (answer["function"], answer["memory"]) == ("toy-function", "128")
    assert answer["arn"].endswith(":function:toy-function")
    assert 0 < answer["remaining_ms"] <= 5000


def test_nothing_from_the_dev_virtualenv_is_importable(runner: LambdaRunner) -> None:
    with pytest.raises(FunctionError) as raised:
        runner.invoke("ToyFunction", {"op": "import", "module": "pytest"})
    assert raised.value.error_type == "ModuleNotFoundError"


def test_a_warm_worker_is_reused_and_only_the_first_call_reports_its_init(
    runner: LambdaRunner,
) -> None:
    first = runner.invoke_payload("ToyFunction", b"{}", tail=True)
    second = runner.invoke_payload("ToyFunction", b"{}", tail=True)
    assert (first.cold, second.cold) == (True, False)
    assert json.loads(first.payload)["pid"] == json.loads(second.payload)["pid"]
    assert "init_ms" in first.report and "init_ms" not in second.report
    assert re.search(r"\tInit Duration: [\d.]+ ms", first.log[-1])
    assert "Init Duration" not in second.log[-1]
    assert second.log[0] == f"START RequestId: {second.request_id} Version: $LATEST"
    assert second.log[1] == "handling None"
    assert second.log[-2] == f"END RequestId: {second.request_id}"
    assert re.fullmatch(
        rf"REPORT RequestId: {second.request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB",
        second.log[-1],
    )
    assert runner.init_durations()["ToyFunction"][0] > 0


def test_the_log_file_holds_init_output_and_every_call(runner: LambdaRunner) -> None:
    # With tail=True a call returns once its REPORT line is written: the log file holds it too.
    calls = [runner.invoke_payload("ToyFunction", b'{"op": "raise"}', tail=True) for _ in range(2)]
    log = (runner.log_dir / "ToyFunction.log").read_text(encoding="utf-8")
    assert "INIT_START Runtime Version: python:3.13" in log
    assert "init line" in log
    for call in calls:
        assert f"START RequestId: {call.request_id}" in log
        assert f"END RequestId: {call.request_id}" in log
        assert f"REPORT RequestId: {call.request_id}" in log
    assert "[ERROR] ValueError: bad input" in log


def test_an_unhandled_exception_answers_in_the_runtimes_error_shape(runner: LambdaRunner) -> None:
    invocation = runner.invoke_payload("ToyFunction", b'{"op": "raise"}')
    error = json.loads(invocation.payload)
    assert invocation.error
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad input")
    assert error["requestId"] == invocation.request_id
    assert any("lambda_handler" in frame for frame in error["stackTrace"])
    assert json.loads(runner.invoke_payload("ToyFunction", b"{}").payload)["pid"]  # the worker lives on


def test_a_call_past_its_timeout_is_killed_and_the_worker_replaced(runner: LambdaRunner) -> None:
    before = runner.invoke("ToyFunction", {})["pid"]
    started = time.monotonic()
    invocation = runner.invoke_payload("ToyFunction", b'{"op": "sleep", "seconds": 30}', tail=True)
    assert time.monotonic() - started < 10
    error = json.loads(invocation.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"] == (
        f"RequestId: {invocation.request_id} Error: Task timed out after 5.00 seconds"
    )
    assert invocation.log[-1].endswith("\tStatus: timeout")
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)
    assert runner.invoke("ToyFunction", {})["pid"] != before


def test_a_call_past_its_memory_dies_as_out_of_memory(runner: LambdaRunner) -> None:
    invocation = runner.invoke_payload("ToyFunction", b'{"op": "allocate", "mb": 400}', tail=True)
    error = json.loads(invocation.payload)
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert "Runtime exited with error: signal: killed" in error["errorMessage"]
    used = int(re.search(r"Max Memory Used: (\d+) MB", invocation.log[-1])[1])  # type: ignore[index]
    assert used >= 128
    assert runner.invoke("ToyFunction", {})["pid"]  # a new worker answers


def test_a_worker_that_exits_answers_as_the_runtime_does(runner: LambdaRunner) -> None:
    error = json.loads(runner.invoke_payload("ToyFunction", b'{"op": "exit"}').payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: exit status 3")


def test_an_init_failure_fails_the_call_and_the_next_call_tries_again(code: Path, tmp_path: Path) -> None:
    with LambdaRunner([config(code, FAIL_INIT="1")], log_dir=tmp_path) as runner:
        for _ in range(2):
            error = json.loads(runner.invoke_payload("ToyFunction", b"{}").payload)
            assert error["errorType"] == "Runtime.ImportModuleError"
            assert error["errorMessage"] == (
                "Unable to import module 'app': No module named 'not_a_module_anyone_has'"
            )
        assert runner.workers("ToyFunction") == []


def test_calls_beyond_the_concurrency_cap_wait_for_a_free_execution(runner: LambdaRunner) -> None:
    answers: list[dict[str, float]] = []

    def call() -> None:
        started = time.monotonic()
        runner.invoke("ToyFunction", {"op": "sleep", "seconds": 1})
        answers.append({"started": started, "ended": time.monotonic()})

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runner.workers("ToyFunction")) <= 2  # the cap is 2
    ends = sorted(a["ended"] for a in answers)
    assert ends[2] - ends[0] >= 0.9  # the third call waited for one of the first two


def test_workers_die_with_a_runner_killed_by_sigkill(code: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        sys.path[:0] = {[str(Path.cwd())]!r}
        from tests.local.test_runner import config
        from local.runner.runner import LambdaRunner
        runner = LambdaRunner([config(Path({str(code)!r}))], log_dir=Path({str(tmp_path)!r}))
        print(runner.invoke("ToyFunction", {{}})["pid"], flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    os.kill(worker, 0)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the worker outlived its runner")


def test_a_missing_runtime_names_what_to_install() -> None:
    with pytest.raises(RuntimeMissing, match=r"install Python 3\.99, e\.g\. `pyenv install 3\.99`"):
        runtime_python("python3.99")
