"""Each function's settings: the variables of its own template Environment, parsed once at cold start.

A handler declares the variables it reads as a model built from the groups below (one per resource
or tunable) and parses them at import with ``load_settings``. Every field is required, names and
ARNs must not be empty, and the numeric tunables come from the template's Parameters: a variable
the function's Environment lacks, or an invalid value, fails its cold start with a
``SettingsError`` naming it, instead of an empty table name failing some AWS call later. The
adapters take the names as constructor arguments; nothing else in the layer reads the environment
(boto3 and Powertools read their own variables, such as ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

# A resource name or ARN: never empty.
Name = Annotated[str, StringConstraints(min_length=1)]


class FunctionSettings(BaseModel):
    """Base of every function's settings; each field is read from the variable named by its alias."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class SettingsError(RuntimeError):
    """The function's environment lacks a variable its settings need, or holds an invalid value."""


S = TypeVar("S", bound=FunctionSettings)


def variables(model: type[FunctionSettings]) -> frozenset[str]:
    """The environment variables ``model`` reads (every one of them required)."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def load_settings(model: type[S], environ: Mapping[str, str] | None = None) -> S:
    """``model`` parsed from ``environ`` (the process environment); SettingsError names every variable
    that is missing or invalid. Only the model's own variables are read: the message never holds
    the values of others (credentials)."""
    source = os.environ if environ is None else environ
    names = variables(model)
    try:
        return model.model_validate({name: source[name] for name in names if name in source})
    except ValidationError as error:
        missing = sorted(str(e["loc"][0]) for e in error.errors() if e["type"] == "missing" and e["loc"])
        invalid = [
            f"{e['loc'][0]} ({e['msg']})" if e["loc"] else e["msg"]
            for e in error.errors()
            if e["type"] != "missing" or not e["loc"]
        ]
        problems = [f"missing: {', '.join(missing)}"] if missing else []
        problems += [f"invalid: {'; '.join(invalid)}"] if invalid else []
        raise SettingsError(
            f"{' | '.join(problems)} (environment variables of {model.__module__}.{model.__qualname__}; "
            "the function's Environment in template.yaml sets them)"
        ) from None


# --- groups of fields, combined by each handler's own model ---------------------------------------


class ProductsTableSettings(FunctionSettings):
    products_table: Name = Field(alias="PRODUCTS_TABLE")


class JobsTableSettings(FunctionSettings):
    jobs_table: Name = Field(alias="JOBS_TABLE")


class KeysTableSettings(FunctionSettings):
    application_keys_table: Name = Field(alias="APPLICATION_KEYS_TABLE")


class TokenSigningSettings(FunctionSettings):
    token_signing_secret_arn: Name = Field(alias="TOKEN_SIGNING_SECRET_ARN")


class PartsBucketSettings(FunctionSettings):
    parts_bucket: Name = Field(alias="PARTS_BUCKET")


class WorkflowSettings(FunctionSettings):
    export_state_machine_arn: Name = Field(alias="EXPORT_STATE_MACHINE_ARN")


class PartSizeSettings(FunctionSettings):
    # The most products in one CSV part (template Parameter PartSize).
    part_size: int = Field(alias="PART_SIZE", ge=1)


class PartRetentionSettings(FunctionSettings):
    # Days before the bucket expires a part (PartRetentionDays): links and events say when.
    part_retention_days: int = Field(alias="PART_RETENTION_DAYS", ge=1)


class CompletionEventsSettings(PartRetentionSettings):
    # The EventBridge bus of the export completion events (adapters/events.py).
    event_bus_name: Name = Field(alias="EVENT_BUS_NAME")


class WebhookPolicySettings(FunctionSettings):
    # Whether webhook URLs may be plain http (local testing only).
    allow_http_webhooks: bool = Field(alias="ALLOW_HTTP_WEBHOOKS")


class DownloadLinkSettings(PartsBucketSettings, PartRetentionSettings):
    """How download links are signed (adapters/links.py): S3 presigned URLs of the parts bucket, or
    CloudFront signed URLs when the stack serves parts through CloudFront. The three CloudFront
    variables are always set; all three are empty without CloudFront (template Condition
    ServeThroughCloudFront)."""

    download_link_ttl: int = Field(alias="DOWNLOAD_LINK_TTL", ge=1)
    cloudfront_domain: str = Field(alias="CLOUDFRONT_DOMAIN")
    cloudfront_key_pair_id: str = Field(alias="CLOUDFRONT_KEY_PAIR_ID")
    cloudfront_private_key_secret_arn: str = Field(alias="CLOUDFRONT_PRIVATE_KEY_SECRET_ARN")

    @model_validator(mode="after")
    def _cloudfront_all_or_nothing(self) -> Self:
        given = (self.cloudfront_domain, self.cloudfront_key_pair_id, self.cloudfront_private_key_secret_arn)
        if any(given) and not all(given):
            raise ValueError(
                "CLOUDFRONT_DOMAIN, CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY_SECRET_ARN are set "
                "together or all empty"
            )
        return self

    @property
    def through_cloudfront(self) -> bool:
        return bool(self.cloudfront_domain)
