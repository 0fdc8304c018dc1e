"""`make invoke`: one function, one event, on the local runner: `sam local invoke` without Docker.

    python -m local.invoke <LogicalId> <event.json> [--url http://127.0.0.1:3000]

Calls the function through Lambda's Invoke API, with boto3 as any client would, on a running
`make serve` (found through the state file it writes, or ``--url``), or on a fresh local stack
started for this call and stopped after it. Prints the function's log lines of the call (its own
output between START and END, then the REPORT line) and its answer.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.template import REPO_ROOT, Template

# Written by `make serve` while it runs: {"url": ..., "pid": ...}.
SERVE_STATE = REPO_ROOT / ".local" / "serve.json"


def running_serve(state: Path = SERVE_STATE) -> str | None:
    """The URL of a running `make serve`, if there is one."""
    try:
        served = json.loads(state.read_text(encoding="utf-8"))
        os.kill(int(served["pid"]), 0)
        with urllib.request.urlopen(f"{served['url']}/pcm/openapi.json", timeout=2):  # noqa: S310
            return str(served["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _endpoint(url: str | None) -> Iterator[str]:
    found = url or running_serve()
    if found:
        yield found
        return
    from local.server import local_service  # noqa: PLC0415 - only when no stack runs

    print("no `make serve` running: starting a local stack for this call", file=sys.stderr)
    with local_service(port=0, parameters={"LogLevel": "INFO"}) as service:
        yield service.base_url


def invoke(url: str, function: str, event: bytes) -> dict[str, Any]:
    """Lambda's Invoke through boto3; the answer's payload, function error and log tail."""
    client = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local stack checks no signature
        config=Config(read_timeout=960, retries={"max_attempts": 1}),
    )
    answer = client.invoke(FunctionName=function, Payload=event, LogType="Tail")
    return {
        "payload": json.loads(answer["Payload"].read() or b"null"),
        "function_error": answer.get("FunctionError"),
        "log": base64.b64decode(answer.get("LogResult", "")).decode("utf-8", "replace"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. JobsApiFunction")
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/jobs_api-get-job.json")
    parser.add_argument("--url", help="a running local stack (default: the running `make serve`)")
    args = parser.parse_args(argv)
    functions = [spec.logical_id for spec in Template.load().functions()]
    if args.function not in functions:
        print(
            f"error: no function {args.function!r}; the template has: {', '.join(functions)}", file=sys.stderr
        )
        return 2
    try:
        event = args.event.read_bytes()
        json.loads(event)
    except (OSError, ValueError) as error:
        print(f"error: {args.event}: {error}", file=sys.stderr)
        return 2
    with _endpoint(args.url) as url:
        answer = invoke(url, args.function, event)
    print(answer["log"].rstrip("\n"), file=sys.stderr)
    if answer["function_error"]:
        print(f"FunctionError: {answer['function_error']}", file=sys.stderr)
    print(json.dumps(answer["payload"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
