"""Fixtures of the hostile-input battery, and the count of its generated cases printed at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import IN_PROCESS, EmbeddedStack, embedded_stack
from local.stores import DemoStore, create_store
from tests.hostile.battery import CASES, LOCK, PROFILE, WAITED


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_stack() -> Iterator[EmbeddedStack]:
    """One moto-backed stack per module: hypothesis runs many examples against it."""
    # No hourly export cap: the battery starts far more exports than a store may in an hour.
    parameters = {"PartSize": "5", "LogLevel": "ERROR", "ExportsPerStorePerHour": "0"}
    with embedded_stack(parameters=parameters, lambdas=IN_PROCESS) as created:
        yield created


@pytest.fixture(scope="module")
def hostile_store(hostile_stack: EmbeddedStack) -> DemoStore:
    return create_store(hostile_stack, "hostile store")


# --- the count ------------------------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the count to the controller
        workeroutput["hostile_cases"] = json.dumps(dict(CASES))
        workeroutput["hostile_waited"] = str(WAITED["seconds"])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    counts = json.loads(getattr(node, "workeroutput", {}).get("hostile_cases", "{}"))
    with LOCK:
        CASES.update(counts)
        WAITED["seconds"] += float(getattr(node, "workeroutput", {}).get("hostile_waited", 0))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    terminalreporter.section("hostile-input battery")
    cases = {kind: number for kind, number in CASES.items() if not kind.startswith("answers ")}
    for kind, number in sorted(cases.items()):
        terminalreporter.write_line(f"{number:7d}  {kind}")
    terminalreporter.write_line(f"{sum(cases.values()):7d}  generated cases in all (profile {PROFILE})")
    answers = ", ".join(
        f"{n} {kind.removeprefix('answers ')}" for kind, n in sorted(CASES.items()) if kind not in cases
    )
    terminalreporter.write_line(f"         answers: {answers}")
    terminalreporter.write_line(f"         {WAITED['seconds']:.0f} s spent letting accepted exports finish")
