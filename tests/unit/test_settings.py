"""load_settings: every variable required, every problem named, no other variable's value shown."""

from __future__ import annotations

import pytest
from pydantic import Field

from product_export.settings import (
    DownloadLinkSettings,
    JobsTableSettings,
    PartSizeSettings,
    SettingsError,
    WebhookPolicySettings,
    load_settings,
    variables,
)


class Example(JobsTableSettings, PartSizeSettings, WebhookPolicySettings):
    progress_interval_seconds: float = Field(alias="PROGRESS_INTERVAL_SECONDS", ge=0)


COMPLETE = {
    "JOBS_TABLE": "jobs",
    "PART_SIZE": "50000",
    "ALLOW_HTTP_WEBHOOKS": "false",
    "PROGRESS_INTERVAL_SECONDS": "5",
}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_model_reads_its_variables_typed() -> None:
    settings = load_settings(Example, {**COMPLETE, "AWS_SECRET_ACCESS_KEY": SECRET})
    assert (settings.jobs_table, settings.part_size) == ("jobs", 50_000)
    assert settings.allow_http_webhooks is False and settings.progress_interval_seconds == 5.0
    assert variables(Example) == set(COMPLETE)
    with pytest.raises(ValueError):
        settings.jobs_table = "other"  # type: ignore[misc]  # frozen


def test_every_missing_variable_is_named_and_nothing_has_a_default() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(Example, {"AWS_SECRET_ACCESS_KEY": SECRET})
    message = str(raised.value)
    assert "missing: ALLOW_HTTP_WEBHOOKS, JOBS_TABLE, PART_SIZE, PROGRESS_INTERVAL_SECONDS" in message
    assert "test_settings.Example" in message
    assert SECRET not in message, "no other variable's value is shown"


@pytest.mark.parametrize(
    ("name", "value"),
    [("JOBS_TABLE", ""), ("PART_SIZE", "0"), ("PART_SIZE", "many"), ("ALLOW_HTTP_WEBHOOKS", "maybe")],
)
def test_an_invalid_or_empty_value_is_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"invalid: {name} "):
        load_settings(Example, {**COMPLETE, name: value})


def test_missing_and_invalid_are_reported_together() -> None:
    environment = {**COMPLETE, "PART_SIZE": "-1"}
    del environment["JOBS_TABLE"]
    with pytest.raises(SettingsError, match=r"missing: JOBS_TABLE \| invalid: PART_SIZE "):
        load_settings(Example, environment)


LINKS = {
    "PARTS_BUCKET": "parts",
    "PART_RETENTION_DAYS": "7",
    "DOWNLOAD_LINK_TTL": "3600",
    "CLOUDFRONT_DOMAIN": "",
    "CLOUDFRONT_KEY_PAIR_ID": "",
    "CLOUDFRONT_PRIVATE_KEY_SECRET_ARN": "",
}


def test_cloudfront_is_all_three_variables_or_none() -> None:
    assert not load_settings(DownloadLinkSettings, LINKS).through_cloudfront
    configured = {
        **LINKS,
        "CLOUDFRONT_DOMAIN": "d111111abcdef8.cloudfront.net",
        "CLOUDFRONT_KEY_PAIR_ID": "K2JCJMDEHXQW5F",
        "CLOUDFRONT_PRIVATE_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k",
    }
    assert load_settings(DownloadLinkSettings, configured).through_cloudfront
    with pytest.raises(SettingsError, match="set together or all empty"):
        load_settings(DownloadLinkSettings, {**LINKS, "CLOUDFRONT_DOMAIN": "d111111abcdef8.cloudfront.net"})
    without = dict(LINKS)
    del without["CLOUDFRONT_KEY_PAIR_ID"]
    with pytest.raises(SettingsError, match="missing: CLOUDFRONT_KEY_PAIR_ID"):
        load_settings(DownloadLinkSettings, without)
