"""The parts bucket and the CloudFront option as the template deploys them.

moto does not enforce bucket policies, public access blocks or CloudFront, so these are checked on
the template's resolved configuration (the stack's own resolver, with its Parameters and
Conditions): what CloudFormation will create.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import EmbeddedStack
from local.template import Template, resolve


def _conditions(template: Template, **parameters: str) -> dict[str, bool]:
    refs = {name: value or "" for name, value in template.parameters().items()} | parameters
    wanted = ("LogPartsAccess", "ServeThroughCloudFront")
    return {name: bool(resolve(template.document["Conditions"][name], refs, {})) for name in wanted}


def _statements(stack: EmbeddedStack, **conditions: bool) -> dict[str, dict[str, Any]]:
    """The bucket policy's statements by Sid, resolved as CloudFormation would with ``conditions``."""
    policy = stack.template.resources["PartsBucketPolicy"]["Properties"]["PolicyDocument"]
    saved = dict(stack.conditions)
    stack.conditions.update(conditions)
    try:
        statements = stack.resolve(policy["Statement"])
    finally:
        stack.conditions.clear()
        stack.conditions.update(saved)
    return {statement["Sid"]: statement for statement in statements}


def test_the_bucket_is_private_encrypted_tls_and_sigv4_only_and_links_die_with_their_ttl(
    stack: EmbeddedStack,
) -> None:
    bucket = stack.template.resources["PartsBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    (rule,) = stack.resolve(bucket["LifecycleConfiguration"]["Rules"])
    assert rule["ExpirationInDays"] == stack.parameters["PartRetentionDays"] == "7"
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "LoggingConfiguration" not in stack.resolve(bucket), "access logs are off by default"

    statements = _statements(stack)
    assert set(statements) == {"DenyInsecureTransport", "DenyOtherThanSigV4", "DenyLinksOlderThanTheirTtl"}
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in statements.values())
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyOtherThanSigV4"]["Condition"] == {
        "StringNotEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}
    }
    ttl = statements["DenyLinksOlderThanTheirTtl"]
    assert ttl["Action"] == "s3:GetObject"
    assert ttl["Condition"] == {"NumericGreaterThan": {"s3:signatureAge": "3600000"}}, "milliseconds"


def test_access_logging_and_cloudfront_are_options_that_need_all_their_parameters(
    stack: EmbeddedStack,
) -> None:
    template = Template.load()
    assert _conditions(template) == {"LogPartsAccess": False, "ServeThroughCloudFront": False}
    assert _conditions(template, PartsAccessLogBucket="my-logs")["LogPartsAccess"]
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cf-key-AbCdEf"
    assert not _conditions(template, CloudFrontPublicKeyId="K2JCJMDEHXQW5F")["ServeThroughCloudFront"]
    assert not _conditions(template, CloudFrontPrivateKeySecretArn=arn)["ServeThroughCloudFront"]
    both = _conditions(template, CloudFrontPublicKeyId="K2JCJMDEHXQW5F", CloudFrontPrivateKeySecretArn=arn)
    assert both["ServeThroughCloudFront"]

    resources = template.resources
    for logical_id in ("PartsKeyGroup", "PartsOriginAccessControl", "PartsDistribution"):
        assert resources[logical_id]["Condition"] == "ServeThroughCloudFront", logical_id
    config = resources["PartsDistribution"]["Properties"]["DistributionConfig"]
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["TrustedKeyGroups"] == [{"Ref": "PartsKeyGroup"}], "only URLs signed with our key"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "CachingDisabled"
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["PartsOriginAccessControl", "Id"]}
    oac = resources["PartsOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["SigningBehavior"], oac["SigningProtocol"]) == ("always", "sigv4")
    assert resources["PartsKeyGroup"]["Properties"]["KeyGroupConfig"]["Items"] == [
        {"Ref": "CloudFrontPublicKeyId"}
    ]
    # With CloudFront, the bucket admits that distribution's origin requests, and nothing else new.
    with_cloudfront = _statements(stack, ServeThroughCloudFront=True)
    assert set(with_cloudfront) - set(_statements(stack)) == {"CloudFrontReadsParts"}
    reads = with_cloudfront["CloudFrontReadsParts"]
    assert (reads["Effect"], reads["Principal"], reads["Action"]) == (
        "Allow",
        {"Service": "cloudfront.amazonaws.com"},
        "s3:GetObject",
    )
    source = reads["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert source == f"arn:aws:cloudfront::{stack.account_id}:distribution/{stack.refs['PartsDistribution']}"


@pytest.mark.stack_parameters(DownloadLinkTtl=60)
def test_the_link_age_limit_follows_the_ttl_parameter(stack: EmbeddedStack) -> None:
    ttl = _statements(stack)["DenyLinksOlderThanTheirTtl"]
    assert ttl["Condition"] == {"NumericGreaterThan": {"s3:signatureAge": "60000"}}
    assert stack.environment_of("JobsApiFunction")["DOWNLOAD_LINK_TTL"] == "60"
