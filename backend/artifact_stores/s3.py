"""The S3 store (``s3://bucket/prefix``), for AWS and S3-compatible servers (Ceph RGW,
MinIO; ``ARTIFACT_S3_ENDPOINT_URL``).

Each blob is one object ``<prefix>/<random id>``: S3 cannot rename, and copying every upload
to a name made of its sha256 would cost a second pass over the bytes. A writer holds at most
one part (``part_size``, 8 MiB by default) in memory: a blob that fits in it is one PUT,
a larger one a multipart upload, aborted on failure so that no parts are left billed and
invisible. Clients may also PUT straight to the bucket through a presigned URL
(``direct_upload_url``); the service then reads the object back once to learn its size and
sha256 (``adopt``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from backend.artifact_stores.base import (
    READ_CHUNK,
    ArtifactStore,
    BlobMissing,
    BlobWriter,
    StoredBlob,
)

#: S3's smallest part (but the last) is 5 MiB; 8 MiB is boto3's own default.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3Writer(BlobWriter):
    def __init__(self, store: S3Store) -> None:
        super().__init__()
        self.store = store
        self.key = store.new_key()
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _write(self, chunk: bytes) -> None:
        self.buffer += chunk
        while len(self.buffer) >= self.store.part_size:
            part = bytes(self.buffer[: self.store.part_size])
            del self.buffer[: self.store.part_size]
            self._upload_part(part)

    def _upload_part(self, body: bytes) -> None:
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            started = client.create_multipart_upload(Bucket=bucket, Key=self.key)
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        answer = client.upload_part(
            Bucket=bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def _commit(self) -> StoredBlob:
        client, bucket = self.store.client, self.store.bucket
        try:
            if self.upload_id is None:
                client.put_object(Bucket=bucket, Key=self.key, Body=bytes(self.buffer))
            else:
                if self.buffer or not self.parts:
                    self._upload_part(bytes(self.buffer))
                client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={"Parts": self.parts},
                )
        except BaseException:
            self._abort()
            raise
        self.buffer = bytearray()
        return StoredBlob(self.key, self.size, self.sha256)

    def _abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is not None:
            self.store.client.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id
            )
            self.upload_id = None


class S3Store(ArtifactStore):
    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def new_key(self) -> str:
        name = uuid.uuid4().hex
        return f"{self.prefix}/{name}" if self.prefix else name

    def owns(self, key: str) -> bool:
        return not self.prefix or key.startswith(self.prefix + "/")

    def writer(self) -> S3Writer:
        return S3Writer(self)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self.client.get_object(**arguments)["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in NOT_FOUND:
                raise BlobMissing(key) from None
            raise
        return _chunks(body)

    def size(self, key: str) -> int:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error.response["Error"]["Code"] in NOT_FOUND:
                raise BlobMissing(key) from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"]

    def direct_upload_key(self) -> str:
        return self.new_key()

    def direct_upload_url(self, key: str, expires_in: int) -> str:
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(READ_CHUNK)
    finally:
        body.close()
