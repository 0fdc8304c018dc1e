"""The parts bucket adapter on moto: streamed multipart uploads and their abort."""

from __future__ import annotations

import pytest

from local.stack import EmbeddedStack
from product_export.adapters.parts_bucket import MultipartUpload, PartsBucket


def test_upload_streams_in_chunks_of_at_least_five_mib(stack: EmbeddedStack) -> None:
    bucket = PartsBucket()
    block = b"x" * (1024 * 1024)
    with bucket.upload("s/j/big.csv") as upload:
        for _ in range(13):
            upload.write(block)
        assert len(upload.buffer) < upload.chunk_bytes, "at most one chunk is held in memory"
    assert [part["PartNumber"] for part in upload.parts] == [1, 2]
    head = stack.client("s3").head_object(Bucket=bucket.bucket, Key="s/j/big.csv")
    assert head["ContentLength"] == 13 * len(block) == upload.size


def test_failure_midway_aborts_and_leaves_nothing(stack: EmbeddedStack) -> None:
    bucket = PartsBucket()
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
    bucket = PartsBucket()
    with bucket.upload("s/j/small.csv") as upload:
        upload.write(b"id\r\n")
    body = stack.client("s3").get_object(Bucket=bucket.bucket, Key="s/j/small.csv")["Body"].read()
    assert body == b"id\r\n"
    assert bucket.delete_prefix("s/j/") == 1
