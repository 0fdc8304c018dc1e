"""`make serve`'s stack over real HTTP: routing at the root path, tokens, an export, downloads, shutdown."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.seed import seed
from local.server import LocalService, local_service
from local.stores import create_store
from tests.support import product

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    with local_service(
        port=0, parameters={"PartSize": "3", "LogLevel": "WARNING"}, log_dir=tmp_path_factory.mktemp("logs")
    ) as running:
        yield running


def _session(service: LocalService) -> requests.Session:
    session = requests.Session()
    form = {
        "grant_type": "client_credentials",
        "client_id": service.store.client_id,
        "client_secret": service.store.client_secret,
    }
    answer = session.post(f"{service.base_url}/oauth/access_token", data=form, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def test_export_over_http_downloads_every_part(service: LocalService) -> None:
    http = _session(service)
    created = [
        http.post(
            f"{service.base_url}/pcm/products",
            json={"data": {"type": "product", "attributes": product(n)}},
            timeout=30,
        )
        for n in range(1, 8)
    ]
    assert [r.status_code for r in created] == [201] * 7
    job = http.post(f"{service.base_url}/pcm/products/export?filter=eq(status,live)", timeout=30)
    assert job.status_code == 201, job.text
    job_id = job.json()["data"]["id"]
    deadline = time.monotonic() + 60
    while (doc := http.get(f"{service.base_url}/pcm/jobs/{job_id}", timeout=30).json()["data"])["attributes"][
        "status"
    ] not in ("success", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert doc["attributes"]["status"] == "success"
    rows = []
    for url in doc["meta"]["file_locations"]:
        assert url.startswith(service.s3_endpoint)
        download = requests.get(url, timeout=30)  # no credentials: the signature is the permission
        assert download.status_code == 200
        rows += list(csv.DictReader(io.StringIO(download.content.decode(), newline="")))
    live = {r.json()["data"]["id"] for r in created if r.json()["data"]["attributes"]["status"] == "live"}
    assert sorted(row["id"] for row in rows) == sorted(live)
    assert [
        len(list(csv.reader(io.StringIO(requests.get(u, timeout=30).text, newline="")))) - 1
        for u in doc["meta"]["file_locations"]
    ] == [3, 1]


def test_errors_are_json_api_over_http(service: LocalService) -> None:
    assert requests.get(f"{service.base_url}/pcm/jobs", timeout=30).status_code == 401
    assert requests.get(f"{service.base_url}/nothing", timeout=30).status_code == 404
    bad = _session(service).get(
        f"{service.base_url}/pcm/products", params={"filter": "eq(colour,red)"}, timeout=30
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["status"] == "400"


def test_serve_command_starts_prints_the_key_and_stops_cleanly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output and "client_secret" in output, output
        assert requests.get(f"http://127.0.0.1:{port}/pcm/products", timeout=30).status_code == 401
        children = _children(process.pid)
        assert children, "the stack runs a DynamoDB server process"
        busy = subprocess.run(
            [sys.executable, "-m", "local.server", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert busy.returncode == 2 and "already in use" in busy.stderr
        process.terminate()
        assert process.wait(timeout=30) == 0
        assert not [pid for pid in children if _alive(pid)], "no process survives the shutdown"
    finally:
        if process.poll() is None:
            process.kill()


def test_nothing_outlives_serve_killed_with_sigkill() -> None:
    """dynalite and every Lambda worker die with the stack, even when it cannot clean up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "local.server", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        secret = client_id = ""
        for line in process.stdout:
            if line.strip().startswith("client_id"):
                client_id = line.split()[-1]
            if line.strip().startswith("client_secret"):
                secret = line.split()[-1]
            if "Ctrl-C" in line:
                break
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        token = requests.post(f"http://127.0.0.1:{port}/oauth/access_token", data=form, timeout=60)
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listed = requests.get(f"http://127.0.0.1:{port}/pcm/products", headers=headers, timeout=60)
        assert listed.status_code == 200, listed.text
        descendants = _descendants(process.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in descendants]
        assert any(b"dynalite" in c for c in commands), "dynalite runs"
        assert sum(b"bootstrap.py" in c for c in commands) >= 3, "token, authorizer, products workers"
        process.send_signal(9)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while [pid for pid in descendants if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in descendants if _alive(pid)], "every process dies with the stack"
    finally:
        if process.poll() is None:
            process.kill()
        for pid in _descendants(process.pid):
            os.kill(pid, 9)


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status not in ("Z", "X")


def test_seeded_catalogue_is_what_the_api_lists(service: LocalService) -> None:
    store = create_store(service.stack, "seeded store")
    assert seed(store.store_id, 40, bundles=2) == 42
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {store.admin_token}"
    listed = http.get(f"{service.base_url}/pcm/products", params={"page[limit]": "100"}, timeout=30).json()
    assert listed["meta"]["results"]["total"] == 42
    kinds = [p["meta"]["product_types"] for p in listed["data"]]
    assert kinds.count(["bundle"]) == 2
    duplicate = http.post(
        f"{service.base_url}/pcm/products",
        json={
            "data": {
                "type": "product",
                "attributes": {"name": "x", "commodity_type": "physical", "sku": "SKU-0000007"},
            }
        },
        timeout=30,
    )
    assert duplicate.status_code == 409, "seeded products hold their uniqueness guards"


def _readme_block(after: str) -> str:
    """The first ```sh block of README.md after the line holding ``after``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```sh\n", text.index(after)) + len("```sh\n")
    return text[start : text.index("```", start)]


def test_the_readme_curl_session_works_as_written(service: LocalService) -> None:
    """README's "Running it locally" curl session, run by bash as written, against `make serve`'s
    stack: only the port and the printed client id and secret are filled in."""
    store = create_store(service.stack, "readme store")
    script = (
        _readme_block("In a second terminal:")
        .replace("http://127.0.0.1:3000", service.base_url)
        .replace("<client_id>", store.client_id)
        .replace("<client_secret>", store.client_secret)
    )
    run = subprocess.run(["bash", "-c", script], capture_output=True, timeout=180, check=False)
    assert run.returncode == 0 and not run.stderr, run.stderr
    output = run.stdout  # bytes: the part's CRLF line ends must reach its checksum unchanged
    assert re.search(rb"\rsuccess +\[#{30}\] 1/1 products, parts 1/1\n", output), output
    part = output[output.index(b"id,external_ref,") : output.rindex(b'{"version"')]
    rows = list(csv.reader(io.StringIO(part.decode("utf-8"), newline="")))
    assert len(rows) == 2 and rows[1][rows[0].index("name")] == 'Shoe, "red"', rows
    manifest = json.loads(output[output.rindex(b'{"version"') :])
    [entry] = manifest["parts"]
    checked = (1, len(part), hashlib.sha256(part).hexdigest())
    assert (entry["rows"], entry["bytes"], entry["sha256"]) == checked
