"""The parts bucket: streamed multipart uploads, small JSON documents, presigned links, cleanup."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from product_export.adapters.aws import client
from product_export.settings import get_settings

# S3 multipart parts must be at least 5 MiB (except the last); 8 MiB keeps memory small and requests few.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024


class MultipartUpload:
    """A write-only stream to one S3 object. Holds at most one chunk in memory.

    Used as a context manager: leaving it with an exception aborts the upload, so a failed part
    never leaves a partial object behind.
    """

    def __init__(
        self, bucket: str, key: str, *, content_type: str, chunk_bytes: int = UPLOAD_CHUNK_BYTES
    ) -> None:
        self.s3 = client("s3")
        self.bucket = bucket
        self.key = key
        self.chunk_bytes = chunk_bytes
        self.content_type = content_type
        self.buffer = bytearray()
        self.size = 0
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def __enter__(self) -> MultipartUpload:
        self.upload_id = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=self.key, ContentType=self.content_type
        )["UploadId"]
        return self

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        if len(self.buffer) >= self.chunk_bytes:
            self._flush()

    def _flush(self) -> None:
        number = len(self.parts) + 1
        response = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=bytes(self.buffer),
        )
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self.buffer.clear()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self._abort()
            return
        try:
            if self.buffer or not self.parts:
                self._flush()
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        except BaseException:
            self._abort()  # the last chunk or the completion failed: no partial object, no open upload
            raise

    def _abort(self) -> None:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


class PartsBucket:
    def __init__(self, bucket: str | None = None) -> None:
        self.bucket = bucket or get_settings().parts_bucket
        self.s3 = client("s3")

    def upload(self, key: str, *, content_type: str = "text/csv; charset=utf-8") -> MultipartUpload:
        return MultipartUpload(self.bucket, key, content_type=content_type)

    def put_json(self, key: str, document: Any) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json"
        )

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def signed_link(self, key: str, ttl_seconds: int) -> str:
        url: str = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return url

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were deleted."""
        deleted = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
