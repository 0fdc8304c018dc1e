"""Fixtures: the template's stack on moto, a store with its application key, an API client.

Tables, bucket, functions and the state machine all come from template.yaml through ``local``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.stack import IN_PROCESS, EmbeddedStack, embedded_stack
from local.stores import DemoStore as Store
from local.stores import create_store
from tests.support import ApiClient, ProductQueries

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "stack_parameters(**values): template Parameters for the stack fixture"
    )


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[EmbeddedStack]:
    """The template's stack with the handlers in this process (IN_PROCESS): these tests reach inside
    calls (fault injection, query spies, patched internals). What ships runs on the runner in
    tests/local (test_runner*.py, test_server.py, test_invoke.py) and tests/ship."""
    marker = request.node.get_closest_marker("stack_parameters")
    parameters = {key: str(value) for key, value in (marker.kwargs if marker else {}).items()}
    with embedded_stack(parameters=parameters, lambdas=IN_PROCESS) as created:
        yield created


@pytest.fixture
def store(stack: EmbeddedStack) -> Store:
    return create_store(stack, "store A")


@pytest.fixture
def other_store(stack: EmbeddedStack) -> Store:
    return create_store(stack, "store B")


@pytest.fixture
def admin(stack: EmbeddedStack, store: Store) -> ApiClient:
    return ApiClient(stack, store.admin_token)


@pytest.fixture
def shopper(stack: EmbeddedStack, store: Store) -> ApiClient:
    return ApiClient(stack, store.shopper_token)


@pytest.fixture
def queries(stack: EmbeddedStack) -> Iterator[ProductQueries]:
    spy = ProductQueries()
    yield spy
    spy.close()
