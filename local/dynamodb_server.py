"""A fast local DynamoDB: dynalite (npm, Node) in a child process, in memory or on LevelDB.

moto's in-process DynamoDB serves a few hundred items a second and slows down as a table grows;
dynalite serves about 16,000. It implements the item, query, scan and table operations; our launcher
(``local/dynalite.js``) adds what dynalite lacks and the app uses: ``TransactWriteItems`` and the item
of a failed condition (``ReturnValuesOnConditionCheckFailure="ALL_OLD"``), served to any client,
whatever its process, plus a bulk-load route for seeding. Its header says how, and what differs
from AWS.

dynalite dies with the process that started it, even one killed by SIGKILL: its stdin is a pipe
whose only write end this process holds (forked children close their copies), and it exits when
that pipe reaches end of file.

    with DynamoDBServer() as server:          # in memory, on a free port
        boto3.client("dynamodb", endpoint_url=server.endpoint)

Installed by ``make setup`` (``npm ci --prefix local``); needs Node.js 20 or newer on PATH.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

LOCAL_DIR = Path(__file__).resolve().parent
DYNALITE_PACKAGE = LOCAL_DIR / "node_modules" / "dynalite" / "package.json"
# dynalite's own CLI plus a bulk-load route for seeding (see the script's header).
LAUNCHER = LOCAL_DIR / "dynalite.js"
BULK_PUT_PATH = "/_local/put-items"
INSTALL_COMMAND = "make setup  (which runs: npm ci --prefix local --no-audit --no-fund)"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
# Tables are ACTIVE (and gone) at once instead of after dynalite's default 500 ms.
FAST_OPTIONS = ("--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
# dynalite exits when its stdin reaches end of file: when every copy of the pipe's write end is closed.
LIFELINE_OPTIONS = ("--lifeline", "stdin")

# The write ends of the running servers' lifelines. subprocess's children never get them (close_fds),
# but a forked child would, and would keep dynalite alive after this process dies: it closes them.
_LIFELINES: weakref.WeakSet[IO[bytes]] = weakref.WeakSet()


def _close_inherited_lifelines() -> None:
    for lifeline in list(_LIFELINES):
        with contextlib.suppress(OSError):
            lifeline.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_lifelines)


def node_flags() -> list[str]:
    """V8 sizes for a store held in memory: a heap of half the machine's memory (Node's default of
    about 4 GB runs out near 500,000 products with their uniqueness guards), and a larger young
    generation, which cuts garbage collection while seeding by a few per cent."""
    try:
        memory_mib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (AttributeError, ValueError, OSError):  # not every platform reports it
        memory_mib = 8192
    return [f"--max-old-space-size={max(memory_mib // 2, 4096)}", "--max-semi-space-size=32"]


class DependencyMissing(RuntimeError):
    """Node.js or the dynalite package is not installed."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DynamoDBServer:
    """One dynalite process; ``port=0`` picks a free port, ``data_dir=None`` keeps the data in memory."""

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1", data_dir: Path | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.data_dir = data_dir
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None  # dynalite's stdout and stderr

    # --- state ----------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError("DynamoDBServer.endpoint is known only after start()")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- life cycle -----------------------------------------------------------------------------

    def start(self) -> DynamoDBServer:
        """Spawns dynalite in its own process group and waits until it answers ListTables."""
        if self._process is not None:
            return self
        node = shutil.which("node")
        if node is None:
            raise DependencyMissing(
                "Node.js (>= 20) is not on PATH; the local DynamoDB server (dynalite) needs it. "
                f"Install Node.js, then run: {INSTALL_COMMAND}"
            )
        if not DYNALITE_PACKAGE.is_file():
            raise DependencyMissing(
                f"dynalite is not installed ({DYNALITE_PACKAGE.parent} is missing); run: {INSTALL_COMMAND}"
            )
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        # A port picked here may be taken before dynalite binds it (port 0 cannot be passed: its CLI
        # reads 0 as "the default, 4567"), so a free-port start is retried a few times.
        attempts = 3 if self.requested_port == 0 else 1
        for attempt in range(attempts):
            self.port = self.requested_port or _free_port(self.host)
            self._spawn(node)
            try:
                self._wait_until_ready()
            except BaseException as error:
                output = self._discard()
                if not isinstance(error, RuntimeError):
                    raise
                if attempt + 1 < attempts and "EADDRINUSE" in output:
                    continue
                raise RuntimeError(f"{error}; dynalite's output:\n{output.strip() or '(empty)'}") from None
            atexit.register(self.stop)
            return self
        raise AssertionError("unreachable")

    def _spawn(self, node: str) -> None:
        command = [
            node,
            *node_flags(),
            str(LAUNCHER),
            "--host",
            self.host,
            "--port",
            str(self.port),
            *FAST_OPTIONS,
            *LIFELINE_OPTIONS,
        ]
        if self.data_dir is not None:
            command += ["--path", str(self.data_dir)]
        # A file, not a pipe: nothing can block on a full pipe. Closed by stop().
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # the lifeline: nothing is written, it only has to stay open
            stdout=self._output,
            stderr=subprocess.STDOUT,
            bufsize=0,  # a plain file descriptor: closing it (even in a forked child) takes no lock
            start_new_session=True,  # its own process group: stop() signals dynalite and nothing else
        )
        assert self._process.stdin is not None
        _LIFELINES.add(self._process.stdin)

    def _wait_until_ready(self) -> None:
        probe = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - dynalite checks no credentials
            config=Config(connect_timeout=0.5, read_timeout=2, retries={"max_attempts": 1}),
        )
        deadline = time.monotonic() + START_TIMEOUT
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"dynalite exited with status {self._process.returncode} while starting")
            # Its own "listening" line first: another server on the port would answer ListTables too.
            if "Dynalite listening at" in self._peek_output():
                try:
                    probe.list_tables(Limit=1)
                    return
                except Exception:  # noqa: S110 - not answering yet
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dynalite did not answer on {self.endpoint} within {START_TIMEOUT} s")
            time.sleep(0.02)

    def _discard(self) -> str:
        """Ends a process that failed to start; returns what it wrote."""
        self._terminate()
        return self._read_output()

    def _peek_output(self) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode("utf-8", "replace")

    def _read_output(self) -> str:
        text = self._peek_output()
        output, self._output = self._output, None
        if output is not None:
            output.close()
        return text

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after STOP_TIMEOUT s; safe to call more than once."""
        self._terminate()
        self._read_output()

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()
        if process.stdin is not None:
            _LIFELINES.discard(process.stdin)
            process.stdin.close()

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    def __enter__(self) -> DynamoDBServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.endpoint if self.port is not None and self.running else "stopped"
        return f"DynamoDBServer({state}, data_dir={self.data_dir})"
