"""The S3-compatible test server answers over real HTTP, and each test's bucket starts empty."""

from __future__ import annotations

from tests.s3_fixtures import S3Bucket


def test_a_bucket_round_trips_an_object_over_http(s3_bucket: S3Bucket) -> None:
    assert s3_bucket.endpoint_url.startswith("http://127.0.0.1:")
    assert s3_bucket.keys() == []
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="a/b.txt", Body=b"hello")
    body = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key="a/b.txt")["Body"].read()
    assert body == b"hello"
    assert s3_bucket.keys("a/") == ["a/b.txt"]
