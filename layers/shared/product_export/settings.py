"""Settings parsed once from the Lambda environment (set by template.yaml's Globals)."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    products_table: str = Field("", alias="PRODUCTS_TABLE")
    jobs_table: str = Field("", alias="JOBS_TABLE")
    application_keys_table: str = Field("", alias="APPLICATION_KEYS_TABLE")
    parts_bucket: str = Field("", alias="PARTS_BUCKET")
    token_signing_secret_arn: str = Field("", alias="TOKEN_SIGNING_SECRET_ARN")
    export_state_machine_arn: str = Field("", alias="EXPORT_STATE_MACHINE_ARN")
    idempotency_table: str = Field("", alias="IDEMPOTENCY_TABLE")
    part_size: int = Field(50_000, alias="PART_SIZE", ge=1)
    download_link_ttl: int = Field(3600, alias="DOWNLOAD_LINK_TTL", ge=1)
    # Security (docs/security.md): part lifetime, the export cap, CloudFront signed links.
    part_retention_days: int = Field(7, alias="PART_RETENTION_DAYS", ge=1)
    exports_per_store_per_hour: int = Field(100, alias="EXPORTS_PER_STORE_PER_HOUR", ge=0)  # 0 = no cap
    cloudfront_domain: str = Field("", alias="CLOUDFRONT_DOMAIN")
    cloudfront_key_pair_id: str = Field("", alias="CLOUDFRONT_KEY_PAIR_ID")
    cloudfront_private_key_secret_arn: str = Field("", alias="CLOUDFRONT_PRIVATE_KEY_SECRET_ARN")
    delta_settle_seconds: int = Field(30, alias="DELTA_SETTLE_SECONDS", ge=0)
    # A part writer records its running row count on the job at most this often (export/progress.py).
    progress_interval_seconds: float = Field(5, alias="PROGRESS_INTERVAL_SECONDS", ge=0)
    # Completion events: the EventBridge bus, and whether webhook URLs may be plain http (local only).
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    allow_http_webhooks: bool = Field(False, alias="ALLOW_HTTP_WEBHOOKS")
    # Endpoint override for the embedded local stack (None on AWS).
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")


@cache
def get_settings() -> Settings:
    """The settings of this process. Tests that change the environment call ``get_settings.cache_clear()``."""
    return Settings.model_validate(dict(os.environ))
