"""The parts bucket: streamed multipart uploads, small JSON documents, presigned links, cleanup."""

from __future__ import annotations

import hashlib
import json
import zlib
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

from product_export.adapters.aws import client

# S3 multipart parts must be at least 5 MiB (except the last); 8 MiB keeps memory small and requests few.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
# gzip parts: zlib level 6 (gzip's default); wbits 31 = a gzip member with a fixed header (mtime 0), so
# a retried part uploads the same bytes and the same checksum.
GZIP_LEVEL = 6
GZIP_WBITS = 31


class MultipartUpload:
    """A write-only stream to one S3 object. Holds at most one chunk in memory.

    Used as a context manager: leaving it with an exception aborts the upload, so a failed part
    never leaves a partial object behind. With ``compression="gzip"`` the bytes written are gzipped
    on the way (a streaming compressor, no whole part in memory). ``size`` and ``sha256`` describe
    the bytes actually uploaded (compressed ones when gzipped), final once the upload completed;
    ``raw_size`` counts the bytes written before compression.
    """

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        chunk_bytes: int = UPLOAD_CHUNK_BYTES,
        compression: str | None = None,
    ) -> None:
        self.s3 = client("s3")
        self.bucket = bucket
        self.key = key
        self.chunk_bytes = chunk_bytes
        self.content_type = content_type
        self.buffer = bytearray()
        self.size = 0
        self.raw_size = 0
        self._digest = hashlib.sha256()
        if compression not in (None, "gzip"):
            raise ValueError(f"unknown compression {compression!r}")
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS) if compression else None
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def __enter__(self) -> MultipartUpload:
        self.upload_id = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=self.key, ContentType=self.content_type
        )["UploadId"]
        return self

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes uploaded so far (of the whole object once completed)."""
        return self._digest.hexdigest()

    def write(self, data: bytes) -> None:
        self.raw_size += len(data)
        self._append(self._compressor.compress(data) if self._compressor else data)

    def _append(self, data: bytes) -> None:
        if not data:
            return
        self.buffer += data
        self.size += len(data)
        self._digest.update(data)
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
            if self._compressor is not None:
                self._append(self._compressor.flush())  # the rest of the gzip stream and its trailer
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
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.s3 = client("s3")

    def upload(
        self, key: str, *, content_type: str = "text/csv; charset=utf-8", compression: str | None = None
    ) -> MultipartUpload:
        return MultipartUpload(self.bucket, key, content_type=content_type, compression=compression)

    def put_json(self, key: str, document: Any) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json"
        )

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def get_json_if_exists(self, key: str) -> Any | None:
        try:
            return self.get_json(key)
        except self.s3.exceptions.NoSuchKey:
            return None

    def signed_link(self, key: str, ttl_seconds: int) -> str:
        url: str = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return url

    def move(self, source: str, destination: str) -> None:
        """Copy ``source`` to ``destination`` (server side, metadata kept), then delete ``source``.
        A move already done (the source gone, the destination there) is left as it is."""
        try:
            self.s3.copy_object(
                Bucket=self.bucket, Key=destination, CopySource={"Bucket": self.bucket, "Key": source}
            )
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            self.s3.head_object(Bucket=self.bucket, Key=destination)  # not moved before: raises
            return
        self.s3.delete_object(Bucket=self.bucket, Key=source)

    def abort_uploads(self, prefix: str) -> int:
        """Abort every multipart upload still open under ``prefix`` (a writer killed mid-part, by its
        time limit, leaves one); returns how many were aborted."""
        aborted = 0
        paginator = self.s3.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted += 1
        return aborted

    def delete_keys(self, keys: list[str]) -> None:
        """Delete the given objects (those already gone are no error); no listing needed."""
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were deleted."""
        deleted = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
