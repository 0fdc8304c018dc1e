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
    # Endpoint override for the embedded local stack (None on AWS).
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")


@cache
def get_settings() -> Settings:
    """The settings of this process. Tests that change the environment call ``get_settings.cache_clear()``."""
    return Settings.model_validate(dict(os.environ))
