"""Download links to export parts: signed afresh on every read, for one object, for a short time.

Two signers, chosen by the template's parameters:
- ``S3Links``: SigV4 presigned GetObject URLs of the parts bucket (the default). The signature
  covers the method, bucket, key, expiry and the signing credential: changing the key (another
  store's or job's object) or the expiry breaks it.
- ``CloudFrontLinks``: CloudFront signed URLs with a canned policy (the distribution trusts only the
  key group of the configured public key; the private key is in Secrets Manager). The policy names
  the exact URL, no wildcard, and its expiry.

``PartLinks`` adds the parts' lifetime: the bucket expires parts ``PartRetentionDays`` after they
are written, so a job's links stop (``expired``) once that time has passed since the job was
created, and no link outlives it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Protocol
from urllib.parse import quote

from aws_lambda_powertools.utilities import parameters
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from product_export.adapters.aws import client
from product_export.jobs.models import Job
from product_export.settings import DownloadLinkSettings

SECRET_CACHE_SECONDS = 300


class LinkSigner(Protocol):
    def sign(self, key: str, ttl_seconds: int) -> str: ...


class S3Links:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.s3 = client("s3")

    def sign(self, key: str, ttl_seconds: int) -> str:
        url: str = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return url


@cache
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the CloudFront signing key must be an RSA private key")
    return key


class CloudFrontLinks:
    def __init__(
        self,
        domain: str,
        key_pair_id: str,
        private_key_pem: Callable[[], str],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.domain = domain
        self.key_pair_id = key_pair_id
        self.private_key_pem = private_key_pem
        self.clock = clock

    def _rsa_sign(self, message: bytes) -> bytes:
        # CloudFront verifies signed URLs as RSA with SHA-1 over the policy (its documented scheme).
        return _private_key(self.private_key_pem()).sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    def sign(self, key: str, ttl_seconds: int) -> str:
        url = f"https://{self.domain}/{quote(key, safe='/')}"
        expires = self.clock() + timedelta(seconds=ttl_seconds)
        signed: str = CloudFrontSigner(self.key_pair_id, self._rsa_sign).generate_presigned_url(
            url, date_less_than=expires
        )
        return signed


def _secret_reader(secret_arn: str) -> Callable[[], str]:
    provider = parameters.SecretsProvider(boto3_client=client("secretsmanager"))

    def read() -> str:
        value = provider.get(secret_arn, max_age=SECRET_CACHE_SECONDS)
        if not isinstance(value, str) or not value:
            raise RuntimeError("the CloudFront private key secret is empty")
        return value

    return read


def link_signer(settings: DownloadLinkSettings) -> LinkSigner:
    """CloudFront signed URLs when the stack configures them, else S3 presigned URLs."""
    if settings.through_cloudfront:
        return CloudFrontLinks(
            settings.cloudfront_domain,
            settings.cloudfront_key_pair_id,
            _secret_reader(settings.cloudfront_private_key_secret_arn),
        )
    return S3Links(settings.parts_bucket)


@dataclass(frozen=True)
class JobFiles:
    """What a job document says about its files right now."""

    expires_at: datetime | None  # when the parts expire (success jobs only)
    expired: bool
    sign: Callable[[str], str]  # a part key -> a link valid until min(now + ttl, expires_at)


class PartLinks:
    def __init__(
        self,
        signer: LinkSigner,
        *,
        ttl_seconds: int,
        retention_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.signer = signer
        self.ttl_seconds = ttl_seconds
        self.retention = timedelta(days=retention_days)
        self.clock = clock

    def expires_at(self, job: Job) -> datetime:
        """Every part is written after the job was created, and S3 expires an object no earlier than
        ``PartRetentionDays`` after it was written: from then on a link might be dead."""
        return datetime.fromisoformat(job.created_at.replace("Z", "+00:00")) + self.retention

    def of(self, job: Job) -> JobFiles:
        if job.status != "success":
            return JobFiles(None, False, self._refuse)
        expires_at = self.expires_at(job)
        remaining = (expires_at - self.clock()).total_seconds()
        if remaining < 1:
            return JobFiles(expires_at, True, self._refuse)
        ttl = min(self.ttl_seconds, math.floor(remaining))
        return JobFiles(expires_at, False, lambda key: self.signer.sign(key, ttl))

    @staticmethod
    def _refuse(key: str) -> str:
        raise RuntimeError(f"no link is served for {key}: the job has no live files")
