"""Download links: signed per read, for one object, for a short time; the CloudFront option with the
same guarantees; parts that have expired are said to be expired, never served as dead links.

moto's S3 (in-process and the local server) checks the signature of header-signed requests only
(and only with INITIAL_NO_AUTH_ACTION_COUNT set), never of presigned query-string URLs: a tampered
link still downloads there. So the signatures are checked here the way S3 and CloudFront check
them (AWS SigV4 query authentication; CloudFront's canned policy, RSA-SHA1), with a positive
control (the untouched link verifies) so the checker itself is shown to work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.stores import create_store
from product_export.adapters.links import CloudFrontLinks, PartLinks, S3Links
from product_export.jobs.models import Job
from product_export.values import format_timestamp
from tests.support import ApiClient, parse_csv, product

pytestmark = pytest.mark.workflow


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def s3_link_valid(url: str, *, now: datetime | None = None) -> bool:
    """What S3 does with a presigned GET (SigV4 query authentication), for the stack's credentials."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = params.pop("X-Amz-Signature", "")
    _, date, region, service, terminal = params["X-Amz-Credential"].split("/")
    signed = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) > signed + timedelta(seconds=int(params["X-Amz-Expires"])):
        return False
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,
            canonical_query,
            f"host:{parts.netloc}\n",
            params["X-Amz-SignedHeaders"],
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = f"{date}/{region}/{service}/{terminal}"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    # The secret key of the credentials the functions sign with (moto's fake ones here).
    secret = boto3.Session().get_credentials().get_frozen_credentials().secret_key
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, terminal):
        key = _hmac(key, part)
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature)


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params, quote_via=quote), ""))


def _export(client: ApiClient, n: int = 1) -> dict[str, Any]:
    for number in range(1, n + 1):
        client.create_product(product(number))
    job = client.wait_for_job(client.export()["id"])
    assert job["attributes"]["status"] == "success"
    return job


def test_a_link_is_for_one_object_for_ttl_seconds_and_cannot_be_bent_to_another(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    other = create_store(stack, "store B")
    mine, theirs = _export(admin), _export(ApiClient(stack, other.admin_token))
    (link,) = mine["meta"]["file_locations"]
    (their_link,) = theirs["meta"]["file_locations"]
    assert s3_link_valid(link) and s3_link_valid(their_link), "positive control: untouched links verify"
    params = dict(parse_qsl(urlsplit(link).query))
    assert params["X-Amz-Expires"] == "3600" and params["X-Amz-SignedHeaders"] == "host"
    assert urlsplit(link).path == f"/{store.store_id}/{mine['id']}/" + urlsplit(link).path.rsplit("/", 1)[1]
    assert parse_csv(requests.get(link, timeout=30).content)[1], "the link downloads the part"

    bent = {
        "store B's part": _with_path(link, urlsplit(their_link).path),
        "another part name": _with_path(link, urlsplit(link).path.replace("_part_1", "_part_2")),
        "the store's folder": _with_path(link, f"/{store.store_id}/"),
        "a path trick": _with_path(link, f"/{store.store_id}/../{other.store_id}/{theirs['id']}/x.csv"),
        "another bucket": link.replace(urlsplit(link).netloc, "other-bucket.s3.amazonaws.com"),
        "a longer life": _with_query(link, **{"X-Amz-Expires": "604800"}),
        "a later start": _with_query(link, **{"X-Amz-Date": "20991231T000000Z"}),
        "an extra parameter": _with_query(link, **{"response-content-disposition": "inline"}),
    }
    for name, url in bent.items():
        assert not s3_link_valid(url), name
    assert not s3_link_valid(link, now=datetime.now(UTC) + timedelta(seconds=3601)), "it expires"


def test_links_are_signed_afresh_on_every_read(stack: EmbeddedStack, admin: ApiClient) -> None:
    job = _export(admin)
    time.sleep(1.1)  # SigV4 dates have one-second resolution
    again = admin.get(f"/pcm/jobs/{job['id']}").json()["data"]
    first, second = (dict(parse_qsl(urlsplit(j["meta"]["file_locations"][0]).query)) for j in (job, again))
    assert (
        first["X-Amz-Date"] < second["X-Amz-Date"] and first["X-Amz-Signature"] != second["X-Amz-Signature"]
    )


def _set_created_at(stack: EmbeddedStack, store: Store, job_id: str, moment: datetime) -> None:
    stack.client("dynamodb").update_item(
        TableName=stack.refs["JobsTable"],
        Key={"pk": {"S": store.store_id}, "sk": {"S": f"job#{job_id}"}},
        UpdateExpression="SET created_at = :t",
        ExpressionAttributeValues={":t": {"S": format_timestamp(moment)}},
    )


@pytest.mark.stack_parameters(PartRetentionDays=7)
def test_an_expired_job_says_so_and_serves_no_dead_links(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    job = _export(admin)
    assert job["meta"]["expired"] is False
    expires_at = datetime.fromisoformat(job["meta"]["files_expire_at"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(job["attributes"]["created_at"].replace("Z", "+00:00"))
    assert expires_at - created == timedelta(days=7)

    # Created 7 days less 10 minutes ago: the link lives only until the parts expire.
    _set_created_at(stack, store, job["id"], datetime.now(UTC) - timedelta(days=7) + timedelta(minutes=10))
    soon = admin.get(f"/pcm/jobs/{job['id']}").json()["data"]
    ttl = int(dict(parse_qsl(urlsplit(soon["meta"]["file_locations"][0]).query))["X-Amz-Expires"])
    assert 590 <= ttl <= 600 and soon["meta"]["expired"] is False

    _set_created_at(stack, store, job["id"], datetime.now(UTC) - timedelta(days=7, seconds=1))
    gone = admin.get(f"/pcm/jobs/{job['id']}").json()["data"]
    assert gone["attributes"]["status"] == "success"
    assert gone["meta"]["expired"] is True and gone["meta"]["file_locations"] is None
    assert gone["meta"]["parts"] is not None, "what was exported is still on record"
    listed = admin.get("/pcm/jobs").json()["data"]
    assert [j["meta"]["expired"] for j in listed] == [True]


def _key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


def cloudfront_link_valid(
    url: str, public_key: rsa.RSAPublicKey, key_pair_id: str, *, now: datetime | None = None
) -> bool:
    """What CloudFront does with a canned-policy signed URL: rebuild the policy from the requested
    URL and its Expires, check the RSA-SHA1 signature with the trusted key, and the expiry."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if set(params) != {"Expires", "Signature", "Key-Pair-Id"} or params["Key-Pair-Id"] != key_pair_id:
        return False
    resource = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    condition = '{"DateLessThan":{"AWS:EpochTime":' + params["Expires"] + "}}"
    policy = '{"Statement":[{"Resource":"' + resource + '","Condition":' + condition + "}]}"
    raw = params["Signature"].replace("-", "+").replace("_", "=").replace("~", "/")
    try:
        public_key.verify(base64.b64decode(raw), policy.encode(), padding.PKCS1v15(), hashes.SHA1())
    except Exception:
        return False
    return (now or datetime.now(UTC)).timestamp() < int(params["Expires"])


def test_cloudfront_links_are_signed_for_one_object_and_a_short_time() -> None:
    key, pem = _key_pair()
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    links = CloudFrontLinks("d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F", lambda: pem, clock=lambda: now)
    url = links.sign("store-a/job-a/20260102_030405_part_1.csv", 3600)
    params = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith("https://d111111abcdef8.cloudfront.net/store-a/job-a/20260102_030405_part_1.csv?")
    assert int(params["Expires"]) == int(now.timestamp()) + 3600
    # Verified against a clock inside the link's life (the link was signed for `now`).
    later = _with_query(url, Expires=params["Expires"])
    assert _cloudfront_valid_at(later, key.public_key(), "K2JCJMDEHXQW5F", now)
    for bent in (
        _with_path(url, "/store-b/job-b/20260102_030405_part_1.csv"),
        _with_path(url, "/store-a/job-a/*"),
        _with_query(url, Expires=str(int(params["Expires"]) + 86400)),
        _with_query(url, **{"Key-Pair-Id": "KANOTHERKEY"}),
        url.replace("d111111abcdef8.cloudfront.net", "d222222abcdef8.cloudfront.net"),
    ):
        assert not _cloudfront_valid_at(bent, key.public_key(), "K2JCJMDEHXQW5F", now), bent
    assert not _cloudfront_valid_at(url, key.public_key(), "K2JCJMDEHXQW5F", now + timedelta(seconds=3601))


def _cloudfront_valid_at(url: str, public_key: rsa.RSAPublicKey, key_pair_id: str, moment: datetime) -> bool:
    return cloudfront_link_valid(url, public_key, key_pair_id, now=moment)


def test_the_jobs_api_serves_cloudfront_links_when_the_stack_configures_them(
    stack: EmbeddedStack, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, pem = _key_pair()
    secret = stack.client("secretsmanager").create_secret(Name="cloudfront-key", SecretString=pem)
    # What the template sets on JobsApiFunction with CloudFrontPublicKeyId and the key's secret.
    monkeypatch.setenv("CLOUDFRONT_DOMAIN", "d111111abcdef8.cloudfront.net")
    monkeypatch.setenv("CLOUDFRONT_KEY_PAIR_ID", "K2JCJMDEHXQW5F")
    monkeypatch.setenv("CLOUDFRONT_PRIVATE_KEY_SECRET_ARN", secret["ARN"])
    admin = ApiClient(stack, store.admin_token)
    job = _export(admin, 2)
    (link,) = job["meta"]["file_locations"]
    assert urlsplit(link).netloc == "d111111abcdef8.cloudfront.net"
    assert urlsplit(link).path.startswith(f"/{store.store_id}/{job['id']}/")
    assert cloudfront_link_valid(link, key.public_key(), "K2JCJMDEHXQW5F")
    assert not cloudfront_link_valid(
        _with_path(link, f"/{store.store_id}/other/x.csv"), key.public_key(), "K2JCJMDEHXQW5F"
    )
    expires = int(dict(parse_qsl(urlsplit(link).query))["Expires"])
    assert 3590 <= expires - time.time() <= 3600


def test_part_links_cap_the_ttl_at_the_parts_expiry() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.ttls: list[int] = []

        def sign(self, key: str, ttl_seconds: int) -> str:
            self.ttls.append(ttl_seconds)
            return key

    now = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    signer = Recorder()
    links = PartLinks(signer, ttl_seconds=3600, retention_days=7, clock=lambda: now)

    def job(created: datetime, status: str = "success") -> Job:
        stamp = format_timestamp(created)
        return Job(id="j", store_id="s", status=status, created_at=stamp, updated_at=stamp)  # type: ignore[arg-type]

    assert links.of(job(now - timedelta(days=1))).sign("k") == "k" and signer.ttls == [3600]
    assert links.of(job(now - timedelta(days=7) + timedelta(seconds=90))).sign("k") == "k"
    assert signer.ttls[-1] == 90
    expired = links.of(job(now - timedelta(days=7)))
    assert expired.expired and expired.expires_at == now
    with pytest.raises(RuntimeError):
        expired.sign("k")
    assert not links.of(job(now, "started")).expired


def test_s3_links_sign_get_object_of_the_parts_bucket_only(stack: EmbeddedStack) -> None:
    url = S3Links(stack.environment()["PARTS_BUCKET"]).sign("a/b/c.csv", 120)
    assert s3_link_valid(url)
    assert urlsplit(url).netloc.startswith(stack.environment()["PARTS_BUCKET"])
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Expires"] == "120"
