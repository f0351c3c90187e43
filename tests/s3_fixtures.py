"""An S3-compatible object store for the tests: moto's server on 127.0.0.1, spoken to over real HTTP.

The object store is the outside world here (a processor's own S3, MinIO or Ceph), so a stand-in that
speaks the real protocol is allowed by the house rules; Steward's own code (boto3 through its backup
location, django-storages for files) talks to it exactly as it would to the real thing.

- `s3_server` (session): the server's endpoint URL; one per test process, started on a free port.
- `s3_bucket`: a new, empty bucket for this test; yields an `S3Bucket` with its name, the endpoint and
  a boto3 client to look at what was written. Credentials are dummies set in the environment.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

S3_ACCESS_KEY = "steward-test"
S3_SECRET_KEY = "steward-test-secret"  # noqa: S105 - a dummy for a local test server
S3_REGION = "eu-west-2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Start moto's S3-compatible server on loopback for this test process; yield its endpoint URL."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(
        AWS_ACCESS_KEY_ID=S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET_KEY, AWS_DEFAULT_REGION=S3_REGION
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class S3Bucket:
    """A bucket made for one test, with a client to inspect it."""

    name: str
    endpoint_url: str
    client: Any

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`, sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture
def s3_bucket(s3_server: str) -> S3Bucket:
    """A new, empty bucket on the test's S3-compatible server."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name=S3_REGION,
    )
    name = f"steward-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    return S3Bucket(name=name, endpoint_url=s3_server, client=client)
