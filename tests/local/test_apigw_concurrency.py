"""Concurrent API requests through the emulated gateway never run two handlers at once.

Lambda hands an execution environment one event at a time. The emulation runs every function in
one process, and Powertools' REST resolver keeps the current event in a class attribute shared by
every resolver, so two requests in flight together could each be answered with the other's caller
or parameters (bench/load.py saw an export of one store answered with another store's job).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.stack import IN_PROCESS, EmbeddedStack, embedded_stack
from local.stores import create_store
from tests.support import ApiClient, product

API_FUNCTIONS = ("ProductsApiFunction", "JobsApiFunction", "TokenFunction")


@pytest.fixture
def service_stack() -> Iterator[EmbeddedStack]:
    """The product's template (this directory's ``stack`` fixture is a throwaway one)."""
    with embedded_stack(lambdas=IN_PROCESS) as created:
        yield created


class Overlap:
    """Counts API handlers running at once; each call lingers a little so that overlaps show."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.lock = threading.Lock()
        self.running = self.most = 0
        for logical_id in API_FUNCTIONS:
            stack.dispatcher.intercept(logical_id, self._call)

    def _call(self, event: Any, context: Any, call_real: Any) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.01)
            return call_real(event)
        finally:
            with self.lock:
                self.running -= 1


def test_api_handlers_take_turns_and_answers_are_never_crossed(service_stack: EmbeddedStack) -> None:
    stores = [create_store(service_stack, f"store {n}") for n in (1, 2)]
    clients = [ApiClient(service_stack, store.admin_token) for store in stores]
    own = [client.create_product(product(n))["id"] for n, client in enumerate(clients, start=1)]
    overlap = Overlap(service_stack)
    gateway = service_stack.api
    assert gateway is not None

    def call(turn: int) -> None:
        which = turn % 3
        if which == 2:
            form = f"grant_type=implicit&client_id={stores[turn % 2].client_id}"
            answer = gateway.request("POST", "/oauth/access_token", body=form)
            assert answer.status == 200, answer.body
            return
        listed = clients[which].get("/pcm/products", query={"page[limit]": str(1 + turn % 7)})
        assert listed.status == 200, listed.body
        assert [item["id"] for item in listed.json()["data"]] == [own[which]], "another store's answer"
        assert listed.json()["meta"]["page"]["limit"] == 1 + turn % 7, "another request's answer"

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(call, range(36)))
    assert overlap.most == 1
