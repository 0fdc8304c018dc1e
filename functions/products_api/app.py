"""/pcm/products: the catalogue, JSON:API. Shopper (implicit) tokens read live products only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.products_table import ProductsTable
from product_export.api.documents import product_page
from product_export.api.http import (
    admin_of,
    caller_of,
    create_resolver,
    document,
    json_body,
    path_id,
)
from product_export.api.parameters import FILTER, page_of
from product_export.catalogue.models import ProductDocument
from product_export.catalogue.products import to_resource
from product_export.catalogue.service import Catalogue
from product_export.errors import NotFound
from product_export.filters import And, Comparison, parse_filter, resolve_field
from product_export.settings import ProductsTableSettings, load_settings


class Settings(ProductsTableSettings):
    """ProductsApiFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
app = create_resolver()
catalogue = Catalogue(ProductsTable(settings.products_table))
# Shopper (implicit) tokens see live products only.
LIVE_ONLY = Comparison("eq", resolve_field("status"), ("live",))


@app.post("/pcm/products")
@tracer.capture_method
def create_product() -> Response[str]:
    caller = admin_of(app)
    item = catalogue.create(caller.store_id, ProductDocument.model_validate(json_body(app)))
    logger.info("product created", extra={"product_id": item["id"]})
    return document({"data": to_resource(item)}, status=201)


@app.get("/pcm/products")
@tracer.capture_method
def list_products() -> Response[str]:
    caller = caller_of(app)
    offset, limit = page_of(app)
    expr = parse_filter(FILTER.read(app))
    if not caller.is_admin:
        expr = And((LIVE_ONLY, expr)) if expr is not None else LIVE_ONLY
    page = catalogue.list_products(caller.store_id, expr, offset=offset, limit=limit)
    data = [to_resource(item, include_admin=caller.is_admin) for item in page.items]
    return document({"data": data, **product_page("/pcm/products", offset, limit, page.total)})


@app.get("/pcm/products/<product_id>")
@tracer.capture_method
def get_product(product_id: str) -> Response[str]:
    caller = caller_of(app)
    product_id = path_id(product_id, "Product")
    item = catalogue.get(caller.store_id, product_id)
    if not caller.is_admin and item.get("status") != "live":
        raise NotFound(f"Product {product_id} not found")
    return document({"data": to_resource(item, include_admin=caller.is_admin)})


@app.put("/pcm/products/<product_id>")
@tracer.capture_method
def update_product(product_id: str) -> Response[str]:
    caller = admin_of(app)
    product_id = path_id(product_id, "Product")
    item = catalogue.update(caller.store_id, product_id, ProductDocument.model_validate(json_body(app)))
    logger.info("product updated", extra={"product_id": product_id})
    return document({"data": to_resource(item)})


@app.delete("/pcm/products/<product_id>")
@tracer.capture_method
def delete_product(product_id: str) -> Response[str]:
    caller = admin_of(app)
    product_id = path_id(product_id, "Product")
    catalogue.delete(caller.store_id, product_id)
    logger.info("product deleted", extra={"product_id": product_id})
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
