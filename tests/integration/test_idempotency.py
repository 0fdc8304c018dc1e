"""Idempotency-Key on POST /pcm/products/export."""

from __future__ import annotations

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from tests.support import ApiClient


def _export(client: ApiClient, key: str | None, filter_text: str = "eq(status,live)") -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Idempotency-Key": key} if key is not None else {}
    response = client.post("/pcm/products/export", query={"filter": filter_text}, headers=headers)
    return response.status, response.json()


def _total(client: ApiClient) -> int:
    return int(client.get("/pcm/jobs").json()["meta"]["results"]["total"])


def test_same_key_and_request_give_the_same_job(admin: ApiClient) -> None:
    first_status, first = _export(admin, "order-42")
    again_status, again = _export(admin, "order-42")
    assert first_status == again_status == 201
    assert again["data"]["id"] == first["data"]["id"]
    assert _total(admin) == 1
    admin.wait_for_job(first["data"]["id"])
    _, later = _export(admin, "order-42")
    assert later["data"]["id"] == first["data"]["id"]
    assert later["data"]["attributes"]["status"] == "success", "the replay shows the job as it is now"


def test_same_key_with_another_request_is_422_and_starts_nothing(admin: ApiClient) -> None:
    _, first = _export(admin, "k-1")
    status, body = _export(admin, "k-1", "eq(status,draft)")
    assert status == 422
    assert "Idempotency-Key" in body["errors"][0]["detail"]
    assert _total(admin) == 1
    admin.wait_for_job(first["data"]["id"])


def test_without_the_header_or_with_other_keys_each_post_is_a_job(admin: ApiClient) -> None:
    ids = {_export(admin, None)[1]["data"]["id"], _export(admin, None)[1]["data"]["id"]}
    ids |= {_export(admin, "a")[1]["data"]["id"], _export(admin, "b")[1]["data"]["id"]}
    assert len(ids) == 4
    assert _total(admin) == 4
    for job_id in ids:
        admin.wait_for_job(job_id)


def test_keys_are_per_store(stack: EmbeddedStack, admin: ApiClient, other_store: Store) -> None:
    theirs = ApiClient(stack, other_store.admin_token)
    _, mine = _export(admin, "shared-key")
    _, other = _export(theirs, "shared-key")
    assert mine["data"]["id"] != other["data"]["id"]
    assert theirs.get(f"/pcm/jobs/{mine['data']['id']}").status == 404
    admin.wait_for_job(mine["data"]["id"])
    theirs.wait_for_job(other["data"]["id"])


def test_a_refused_request_leaves_the_key_free(admin: ApiClient) -> None:
    status, _ = _export(admin, "retry-me", "eq(colour,red)")
    assert status == 400
    status, body = _export(admin, "retry-me")
    assert status == 201
    admin.wait_for_job(body["data"]["id"])


def test_malformed_keys_are_400(admin: ApiClient) -> None:
    for key in ("has space", "x" * 256, "ünï"):
        status, body = _export(admin, key)
        assert status == 400, key
        assert body["errors"][0]["source"] == {"parameter": "Idempotency-Key"}
    assert _total(admin) == 0
