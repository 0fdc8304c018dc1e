"""The parts bucket adapter on moto: streamed multipart uploads (plain or gzipped, with their
checksum) and their abort."""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from local.stack import EmbeddedStack
from product_export.adapters.parts_bucket import MultipartUpload, PartsBucket


def test_upload_streams_in_chunks_of_at_least_five_mib(stack: EmbeddedStack) -> None:
    bucket = PartsBucket(stack.refs["PartsBucket"])
    block = b"x" * (1024 * 1024)
    with bucket.upload("s/j/big.csv") as upload:
        for _ in range(13):
            upload.write(block)
        assert len(upload.buffer) < upload.chunk_bytes, "at most one chunk is held in memory"
    assert [part["PartNumber"] for part in upload.parts] == [1, 2]
    head = stack.client("s3").head_object(Bucket=bucket.bucket, Key="s/j/big.csv")
    assert head["ContentLength"] == 13 * len(block) == upload.size


def test_failure_midway_aborts_and_leaves_nothing(stack: EmbeddedStack) -> None:
    bucket = PartsBucket(stack.refs["PartsBucket"])
    s3 = stack.client("s3")
    with (
        pytest.raises(RuntimeError),
        MultipartUpload(bucket.bucket, "s/j/part.csv", content_type="text/csv") as upload,
    ):
        upload.write(b"y" * (9 * 1024 * 1024))  # one chunk already uploaded
        assert upload.parts
        raise RuntimeError("writer died")
    assert s3.list_objects_v2(Bucket=bucket.bucket).get("KeyCount", 0) == 0
    assert not s3.list_multipart_uploads(Bucket=bucket.bucket).get("Uploads")


def test_small_part_is_one_request(stack: EmbeddedStack) -> None:
    bucket = PartsBucket(stack.refs["PartsBucket"])
    with bucket.upload("s/j/small.csv") as upload:
        upload.write(b"id\r\n")
    body = stack.client("s3").get_object(Bucket=bucket.bucket, Key="s/j/small.csv")["Body"].read()
    assert body == b"id\r\n"
    assert bucket.delete_prefix("s/j/") == 1


def test_checksum_and_size_are_of_the_bytes_uploaded(stack: EmbeddedStack) -> None:
    bucket = PartsBucket(stack.refs["PartsBucket"])
    block = bytes(range(256)) * 4096  # 1 MiB
    with bucket.upload("s/j/sum.csv") as upload:
        for _ in range(9):  # one 8 MiB chunk, then the rest
            upload.write(block)
    body = stack.client("s3").get_object(Bucket=bucket.bucket, Key="s/j/sum.csv")["Body"].read()
    assert len(upload.parts) == 2
    assert upload.sha256 == hashlib.sha256(body).hexdigest() == hashlib.sha256(block * 9).hexdigest()
    assert upload.size == upload.raw_size == len(body)


def test_gzip_upload_streams_compressed_bytes_and_checksums_them(stack: EmbeddedStack) -> None:
    bucket = PartsBucket(stack.refs["PartsBucket"])
    # Random bytes barely compress: 11 MiB in stays above one 8 MiB chunk out.
    rows = [os.urandom(1024 * 1024) for _ in range(11)]
    with bucket.upload("s/j/part.csv.gz", content_type="application/gzip", compression="gzip") as upload:
        for block in rows:
            upload.write(block)
            assert len(upload.buffer) < upload.chunk_bytes, "at most one chunk is held in memory"
    s3 = stack.client("s3")
    stored = s3.get_object(Bucket=bucket.bucket, Key="s/j/part.csv.gz")
    body = stored["Body"].read()
    assert stored["ContentType"] == "application/gzip" and "ContentEncoding" not in stored
    assert len(upload.parts) >= 2, "more than one chunk of compressed bytes"
    assert upload.sha256 == hashlib.sha256(body).hexdigest()
    assert upload.size == len(body)
    assert gzip.decompress(body) == b"".join(rows)
    assert upload.raw_size == len(b"".join(rows))
    # A retried part rewrites its object: the gzip header carries no time, so the same rows give the
    # same bytes and the same checksum.
    again = MultipartUpload(
        bucket.bucket, "s/j/again.csv.gz", content_type="application/gzip", compression="gzip"
    )
    with again:
        for block in rows:
            again.write(block)
    assert again.sha256 == upload.sha256
    with pytest.raises(ValueError, match="unknown compression"):
        MultipartUpload(bucket.bucket, "s/j/x.csv", content_type="text/csv", compression="zip")
