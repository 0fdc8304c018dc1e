"""`make serve`: the whole service on 127.0.0.1, reachable with curl or Elastic Path's SDK.

    python -m local.server [--port 3000] [--host 127.0.0.1]

- DynamoDB: a dynalite server (npm, installed by `make setup`), fast enough for real catalogues;
- S3: moto's server on its own port, so signed `file_locations` download over HTTP;
- Step Functions and Lambda: moto in-process, running the template's state machine with the
  Lambda tasks dispatched to the real handlers;
- the API: an HTTP server routing like API Gateway (authorizer included) at the root path, so
  clients configured with only a host work: /oauth/access_token, /pcm/...

A demo store and its application key are created and printed at start. Ctrl-C or SIGTERM stops
everything; no process is left behind.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.dynamodb_server import DependencyMissing, DynamoDBServer
from local.invoke import SERVE_STATE
from local.lambdas import RunnerLambdas
from local.runner.runner import default_concurrency
from local.stack import LOG_DIR, EmbeddedStack, apply_environ, embedded_stack, restore_environ
from local.stores import DemoStore, create_store
from local.template import Template

# Lambda's Invoke API: POST /2015-03-31/functions/<name, ARN or logical id>/invocations.
LAMBDA_INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
# Bodies larger than API Gateway's 10 MB payload limit are refused as API Gateway would.
MAX_BODY_BYTES = 10 * 1024 * 1024
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class PortInUse(RuntimeError):
    pass


@dataclass(frozen=True)
class LocalService:
    base_url: str
    stack: EmbeddedStack
    store: DemoStore
    dynamodb_endpoint: str
    s3_endpoint: str


def _handler_for(stack: EmbeddedStack) -> type[BaseHTTPRequestHandler]:
    if stack.api is None:
        raise RuntimeError("the template has no API")
    api = stack.api
    runner = stack.dispatcher.runner if isinstance(stack.dispatcher, RunnerLambdas) else None

    class ApiGatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "product-export-local"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(
                    413,
                    {"Content-Type": "application/json"},
                    b'{"errors":[{"status":"413","title":"Payload Too Large"}]}',
                )
                return
            body = self.rfile.read(length) if length else None
            invoked = LAMBDA_INVOKE_PATH.fullmatch(self.path.partition("?")[0])
            if invoked and self.command == "POST":
                self._invoke(urllib.parse.unquote(invoked[1]), body or b"")
                return
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            response = api.request(self.command, self.path, headers=headers, body=body)
            self._reply(response.status, response.headers, response.content)

        def _invoke(self, function: str, payload: bytes) -> None:
            """Lambda's Invoke API (as `sam local start-lambda` serves it), for `make invoke` and
            boto3's ``lambda.invoke(..., LogType="Tail")``."""
            logical_id = runner.logical_id_for(function) if runner else None
            if runner is None or logical_id is None:
                message = f"Function not found: {function}"
                error = {"Type": "User", "Message": message}
                self._reply(
                    404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(error).encode()
                )
                return
            tail = (self.headers.get("X-Amz-Log-Type") or "").lower() == "tail"
            invocation = runner.invoke_payload(logical_id, payload or b"{}", tail=tail)
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
            headers["x-amzn-RequestId"] = invocation.request_id
            if invocation.error:
                headers["X-Amz-Function-Error"] = "Unhandled"
            if tail:  # the last 4 KB of the call's log, as Lambda returns them
                log = ("\n".join(invocation.log) + "\n").encode("utf-8")[-4096:]
                headers["X-Amz-Log-Result"] = base64.b64encode(log).decode("ascii")
            self._reply(200, headers, invocation.payload)

        def _reply(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # What http.server refuses itself (a request line or header over 64 KB, a malformed
            # request, an unknown method) answers, like the gateway's own errors, as JSON:API.
            phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
            content = json.dumps({"errors": [{"status": str(code), "title": phrase}]}).encode()
            self.close_connection = True
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("LOCAL_SERVER_ACCESS_LOG"):
                super().log_message(format, *args)

    return ApiGatewayHandler


def _bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is already in use; pick another with --port") from None
        raise
    server.daemon_threads = True
    return server


@contextlib.contextmanager
def local_service(
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    parameters: Mapping[str, str] | None = None,
    log_dir: Path = LOG_DIR,
    template: Template | None = None,
    concurrency: int | None = None,
) -> Iterator[LocalService]:
    """Start everything the service needs on ``host``; ``port`` 0 picks a free one."""
    with (
        DynamoDBServer(host=host) as dynamodb,
        embedded_stack(
            template,
            parameters=parameters,
            dynamodb_endpoint=dynamodb.endpoint,
            host=host,
            log_dir=log_dir,
            concurrency=concurrency,
        ) as stack,
    ):
        # The functions presign links with moto's server as their S3 endpoint; so do the
        # operator tools of this process.
        assert stack.aws_endpoint is not None
        s3_endpoint = stack.aws_endpoint
        saved = apply_environ({"AWS_ENDPOINT_URL_S3": s3_endpoint})
        try:
            server = _bind(host, port, _handler_for(stack))
            thread = threading.Thread(target=server.serve_forever, name="api-gateway", daemon=True)
            thread.start()
            try:
                bound_port = server.server_address[1]
                store = create_store(stack, "local store")
                yield LocalService(
                    f"http://{host}:{bound_port}", stack, store, dynamodb.endpoint, s3_endpoint
                )
            finally:
                server.shutdown()
                server.server_close()
                thread.join(timeout=10)
        finally:
            restore_environ(saved)


@contextlib.contextmanager
def _serve_state(url: str) -> Iterator[None]:
    """Tells `make invoke` where this `make serve` answers, while it runs."""
    SERVE_STATE.parent.mkdir(parents=True, exist_ok=True)
    SERVE_STATE.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
    try:
        yield
    finally:
        SERVE_STATE.unlink(missing_ok=True)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--part-size", type=int, default=None, help="products per part (template default 50000)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"Lambda calls running at once, all functions together (default {default_concurrency()})",
    )
    args = parser.parse_args(argv)
    if args.port and not _port_free(args.host, args.port):
        print(
            f"error: port {args.port} on {args.host} is already in use; pick another with --port",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    parameters = {"LogLevel": "WARNING"}
    if args.part_size:
        parameters["PartSize"] = str(args.part_size)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with local_service(
            host=args.host, port=args.port, parameters=parameters, concurrency=args.concurrency
        ) as service:
            print(f"Product Export API listening on {service.base_url}")
            print(f"  store_id      {service.store.store_id}")
            print(f"  client_id     {service.store.client_id}")
            print(f"  client_secret {service.store.client_secret}")
            print(f"  function logs in {service.stack.log_dir}/<LogicalId>.log")
            print(
                f"  (DynamoDB {service.dynamodb_endpoint}, S3 {service.s3_endpoint}) — Ctrl-C to stop",
                flush=True,
            )
            with _serve_state(service.base_url):
                stop.wait()
            print("stopping…", flush=True)
    except (DependencyMissing, PortInUse) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
