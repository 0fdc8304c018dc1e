"""Elastic Path's official JavaScript SDK against `make serve`'s stack (node --test export.test.mjs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from local.server import local_service

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_official_sdk_flow(tmp_path: Path) -> None:
    assert (HERE / "node_modules" / "@elasticpath" / "js-sdk").is_dir(), (
        "run make setup (npm ci --prefix tests/sdk)"
    )
    parameters = {"PartSize": "2", "LogLevel": "WARNING"}
    with local_service(port=0, parameters=parameters, log_dir=tmp_path) as service:
        env = {
            **os.environ,
            "BASE_HOST": service.base_url.removeprefix("http://"),
            "BASE_PROTOCOL": "http",
            "CLIENT_ID": service.store.client_id,
            "CLIENT_SECRET": service.store.client_secret,
        }
        result = subprocess.run(
            ["node", "--test", "--test-reporter=spec", "export.test.mjs"],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "pass" in result.stdout
