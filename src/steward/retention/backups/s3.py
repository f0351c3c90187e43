"""An S3-compatible object store as a backup location (AWS S3, MinIO, Ceph...), through boto3.

Why a multipart upload: the writer streams (pg_dump through age is never whole in memory, nor on a
local disk); it holds one part (`part_size`, 16 MiB by default: 10,000 parts make 160 GB) at a time.
The upload is created when the writer opens and *completed only when it closes cleanly*: S3 shows
nothing under the key before `CompleteMultipartUpload`, and any exception aborts the upload, so no
partial object ever appears under a backup's key. A run killed with SIGKILL cannot abort; the
incomplete upload it leaves (invisible under the key, but billed) is aborted by the nightly expiry
after a day (`clear_incomplete`).

Every boto3/botocore failure becomes a one-line `BackupError` naming the store and the cause (an
unreachable endpoint, no credentials, no such bucket), for the operator and the failure email.
Credentials come from boto3's usual chain (environment, profile, instance role): none are in Steward's
settings.
"""

from __future__ import annotations

import builtins
import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import quote

from steward.retention.backups import BackupError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

PART_SIZE = 16 * 1024 * 1024
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_key(key: str) -> str:
    """A key under the location's prefix: relative, no empty, `.` or `..` segment."""
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise BackupError(f"not a backup file name: {key!r}")
    return key


def cause(error: BaseException, endpoint: str) -> str:
    """What went wrong, in one line an operator acts on."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    where = endpoint or "AWS S3"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return f"the object store is unreachable: could not connect to {where}"
    if isinstance(error, ConnectionClosedError | ReadTimeoutError):
        return f"the connection to the object store at {where} was lost ({error})"
    if isinstance(error, NoCredentialsError):
        return "no credentials for the object store (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)"
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code, message = info.get("Code", "error"), info.get("Message", "")
        return f"the object store refused: {code}" + (f" ({message})" if message else "")
    return f"{type(error).__name__}: {error}".replace("\n", " ")


class _Upload(io.RawIOBase):
    """The writable end of one multipart upload: full parts are sent as they fill."""

    def __init__(self, location: S3Location, key: str, upload_id: str) -> None:
        self.location, self.key, self.upload_id = location, key, upload_id
        self.buffer = bytearray()
        self.parts: list[CompletedPartTypeDef] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer.extend(data)
        while len(self.buffer) >= self.location.part_size:
            self._send(bytes(self.buffer[: self.location.part_size]))
            del self.buffer[: self.location.part_size]
        return len(data)

    def _send(self, body: bytes) -> None:
        number = len(self.parts) + 1
        try:
            answer = self.location.client.upload_part(
                Bucket=self.location.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
            )
        except Exception as error:
            raise self.location.failure("cannot write", self.key, error) from error
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        if self.buffer or not self.parts:  # the last part may be short (an empty file is one empty part)
            self._send(bytes(self.buffer))
            self.buffer.clear()
        try:
            self.location.client.complete_multipart_upload(
                Bucket=self.location.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        except Exception as error:
            raise self.location.failure("cannot complete", self.key, error) from error


class _Body(io.RawIOBase):
    """A streamed object body whose read errors are `BackupError`s naming the store."""

    def __init__(self, location: S3Location, key: str, body: Any) -> None:
        self.location, self.key, self.body = location, key, body

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return cast(bytes, self.body.read(None if size is None or size < 0 else size))
        except Exception as error:
            raise self.location.failure("cannot read", self.key, error) from error

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class S3Location:
    """Backups as objects `<prefix>/<key>` in a bucket of an S3-compatible store."""

    def __init__(
        self, bucket: str, prefix: str = "", *, endpoint_url: str = "", part_size: int = PART_SIZE, client: Any = None
    ) -> None:
        if not BUCKET.match(bucket):
            raise BackupError(f"not an S3 bucket name: {bucket!r} (3 to 63 lower-case letters, digits, dots, hyphens)")
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        self.bucket, self.prefix, self.endpoint_url, self.part_size = bucket, prefix, endpoint_url, part_size
        self.uri = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        if endpoint_url:
            self.uri += f"?endpoint_url={quote(endpoint_url, safe=':/')}"
        at = f" at {endpoint_url}" if endpoint_url else ""
        self.description = f"object store s3://{bucket}/{prefix}{at}"
        self._client = client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=10,
                read_timeout=120,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"} if self.endpoint_url else {},
            )
            self._client = boto3.client("s3", endpoint_url=self.endpoint_url or None, config=config)
        return cast("S3Client", self._client)

    def failure(self, action: str, key: str, error: BaseException) -> BackupError:
        return BackupError(f"{action} backup file {key} in {self.description}: {cause(error, self.endpoint_url)}")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        full = self._key(key)
        try:
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=full)["UploadId"]
        except Exception as error:
            raise self.failure("cannot write", key, error) from error
        upload = _Upload(self, full, upload_id)
        try:
            yield cast(IO[bytes], upload)
            upload.complete()
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - the first failure is the one to tell; expiry aborts it later
                logger.exception("could not abort the upload of %s to %s", key, self.description)
            raise

    @contextmanager
    def reader(self, key: str) -> Iterator[IO[bytes]]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BackupError(f"backup file {key} is not in {self.description}") from error
            raise self.failure("cannot read", key, error) from error
        except Exception as error:
            raise self.failure("cannot read", key, error) from error
        try:
            yield cast(IO[bytes], _Body(self, key, body))
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self.failure("cannot look for", key, error) from error
        except Exception as error:
            raise self.failure("cannot look for", key, error) from error
        return True

    def delete(self, key: str) -> bool:
        """Delete the object; False if it was already gone (S3's delete does not say, so look first)."""
        found = self.exists(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as error:
            raise self.failure("cannot delete", key, error) from error
        return found

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Every key under `prefix` (relative to the location), sorted."""
        root = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix)
            return sorted(obj["Key"][len(root) :] for page in pages for obj in page.get("Contents", []))
        except Exception as error:
            raise self.failure("cannot list", prefix or "*", error) from error

    def clear_incomplete(self, before: dt.datetime) -> builtins.list[str]:
        """Abort the multipart uploads under the prefix started before `before` (left by a killed run);
        returns their keys. A younger one may be a backup being written right now."""
        root = f"{self.prefix}/" if self.prefix else ""
        aborted = []
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=root)
            stale = [u for page in pages for u in page.get("Uploads", []) if u["Initiated"] < before]
            for upload in stale:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted.append(upload["Key"][len(root) :])
        except Exception as error:
            raise self.failure("cannot clear incomplete uploads of", "*", error) from error
        return sorted(aborted)
