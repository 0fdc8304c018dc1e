"""Export planning reads the slim plan-keys index when it holds every attribute the planner decides
on (the snapshot bound, the bundle flag, the filter's fields), and the table otherwise; either way
the export holds exactly the products the product list shows for the same filter. The index the
code reads is the template's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.stack import EmbeddedStack
from local.template import Template
from product_export.adapters.products_table import PLANNING_INDEX, PLANNING_INDEX_ATTRIBUTES
from product_export.catalogue.models import SHARD_COUNT
from product_export.export.planner import shard_groups
from tests.support import ApiClient, ProductQueries, exported_rows, product

pytestmark = [pytest.mark.workflow, pytest.mark.stack_parameters(PartSize=4)]


def test_the_code_reads_the_index_the_template_defines() -> None:
    table = Template.load().resources["ProductsTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    index = indexes[PLANNING_INDEX]
    # Ordered by the product id within a shard, as the table is (sk is the product id): parts are
    # id ranges read from either.
    assert index["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "id", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    keys = {key["AttributeName"] for key in table["KeySchema"] + index["KeySchema"]}
    assert keys | set(index["Projection"]["NonKeyAttributes"]) == PLANNING_INDEX_ATTRIBUTES


def test_the_map_runs_every_group_planner_at_once() -> None:
    machine = Template.load().state_machine()
    assert machine is not None and machine.definition_path is not None
    definition = json.loads(re.sub(r"\$\{\w+\}", "1", machine.definition_path.read_text(encoding="utf-8")))
    plan_shards = definition["States"]["PlanShards"]
    assert plan_shards["MaxConcurrency"] >= len(shard_groups()), "no group waits for another"
    assert plan_shards["MaxConcurrency"] <= 40, "an inline Map runs at most 40 at once"


def _listed(admin: ApiClient, filter_text: str | None) -> set[str]:
    query = {"page[limit]": "100"} | ({"filter": filter_text} if filter_text else {})
    body = admin.get("/pcm/products", query=query).json()
    assert body["meta"]["results"]["total"] == len(body["data"])
    return {resource["id"] for resource in body["data"] if "bundle" not in resource["meta"]["product_types"]}


@pytest.mark.parametrize(
    ("filter_text", "planned_from_index"),
    [
        (None, True),
        ("eq(status,live)", True),
        ("eq(commodity_type,digital):eq(status,draft)", True),
        ("like(name,*1*)", False),  # name is not in the index: planned from the table
        ('eq(shopper_attributes.fit,fit "1")', False),
    ],
)
def test_planning_reads_the_index_when_it_can_and_exports_the_same_products(
    stack: EmbeddedStack,
    admin: ApiClient,
    queries: ProductQueries,
    filter_text: str | None,
    planned_from_index: bool,
) -> None:
    for number in range(1, 25):
        admin.create_product(product(number))
    bundle: dict[str, Any] = product(99, components={"c": {"name": "c", "options": []}})
    admin.create_product(bundle)  # bundles are listed but never exported
    expected = _listed(admin, filter_text)
    assert len(expected) == 24 if filter_text is None else 0 < len(expected) < 24

    queries.reads.clear()
    job = admin.wait_for_job(admin.export(filter_text)["id"])
    assert job["attributes"]["status"] == "success"
    assert sorted(row["id"] for row in exported_rows(job)) == sorted(expected)
    assert job["meta"]["products"] == len(expected)

    from_index = queries.items_read(PLANNING_INDEX)
    if planned_from_index:
        # The planners read every product once from the index (bundles too; they drop them).
        assert from_index == 25
        assert len([name for name, _ in queries.reads if name == PLANNING_INDEX]) >= SHARD_COUNT
    else:
        assert from_index == 0
