"""`make invoke`: every sample event of events/ run on its function through Lambda's Invoke API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local.invoke import main
from local.server import LocalService, local_service
from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def function_of(event: Path) -> str:
    """A sample is named after its function's folder: events/jobs_api-get-job.json is for the
    function whose CodeUri is functions/jobs_api/."""
    folder = event.stem.split("-", 1)[0]
    for spec in Template.load().functions():
        if spec.code_uri.name == folder:
            return spec.logical_id
    raise AssertionError(f"{event.name} names no function folder")


SAMPLES = sorted(EVENTS.glob("*.json"))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    with local_service(port=0, log_dir=tmp_path_factory.mktemp("logs")) as started:
        yield started


def test_every_function_has_a_sample_event() -> None:
    covered = {function_of(event) for event in SAMPLES}
    assert covered == {spec.logical_id for spec in Template.load().functions()}


@pytest.mark.parametrize("event", SAMPLES, ids=[event.stem for event in SAMPLES])
def test_a_sample_runs_on_its_function(
    event: Path, service: LocalService, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([function_of(event), str(event), "--url", service.base_url]) == 0
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert "START RequestId:" in err and "REPORT RequestId:" in err, err
    if "FunctionError: Unhandled" in err:
        # The function ran and refused the sample (its store or job is not in this stack):
        # a handled error of its own, never the runtime failing to start or run it.
        assert not answer["errorType"].startswith(("Runtime.", "Sandbox.")), answer
    elif "statusCode" in answer:  # an API integration's answer
        assert answer["statusCode"] < 500, answer


def test_boto3_invokes_a_function_by_its_physical_name(service: LocalService) -> None:
    client = boto3.client(
        "lambda",
        endpoint_url=service.base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    name = service.stack.dispatcher.functions["OpenApiFunction"].name
    event = (EVENTS / "openapi-get.json").read_bytes()
    answer = client.invoke(FunctionName=name, Payload=event)
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["statusCode"] == 200
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_make_invoke_starts_a_stack_when_none_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "invoke", "FN=OpenApiFunction", "EVENT=events/openapi-get.json"],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REPORT RequestId:" in done.stderr and "Init Duration:" in done.stderr
    assert json.loads(done.stdout[done.stdout.index("{") :])["statusCode"] == 200


def test_an_unknown_function_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["NoSuchFunction", str(EVENTS / "openapi-get.json"), "--url", "http://127.0.0.1:9"]) == 2
    assert "no function 'NoSuchFunction'; the template has: " in capsys.readouterr().err
