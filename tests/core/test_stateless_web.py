"""Stateless web machines (DESIGN.md "Stateless web"): nothing a request needs lives on the web machine's
disk. Sessions are in PostgreSQL and files in the configured store (`core.files`), here an S3-compatible
server over real HTTP: an attachment uploaded through the service desk lands in the bucket and comes back
down; and two `steward serve` processes sharing the database and the bucket behave as one (signed in on
one, the session goes on on the other; uploaded on one, downloaded from the other)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.core import files
from steward.mis.identifiers import make_upn
from steward.retention import termination
from steward.servicedesk import attachments
from steward.servicedesk.models import TicketAttachment
from steward.tenancy.models import Contract, Organisation, Role
from steward.tenancy.scope import estate_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.conftest import _TRAVEL_KEY, steward_server
from tests.notify_fixtures import SmtpSink
from tests.s3_fixtures import S3Bucket

DESK = ("hosted_mis", "service_desk")
CSV = f"upn,surname\n{make_upn('881', '3001', 20, 42)},Example\n".encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def s3_storages(bucket: S3Bucket) -> dict[str, dict[str, Any]]:
    return files.storages_setting(
        {"STEWARD_FILE_STORAGE": f"s3://{bucket.name}/steward", "STEWARD_S3_ENDPOINT_URL": bucket.endpoint_url}
    )


def the_attachments() -> list[TicketAttachment]:
    with estate_scope():
        return list(TicketAttachment.objects.order_by("id"))


def new_request(summary: str) -> dict[str, Any]:
    return {"category": "mis_feed", "urgency": "normal", "summary": summary, "description": "See the file"}


@pytest.mark.django_db
def test_an_attachment_goes_to_the_bucket_and_comes_back_through_the_views(
    client: Client, settings: SettingsWrapper, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    settings.STEWARD_ATTACHMENT_DIR = tmp_path / "attachments"  # the session's folder holds other tests' files
    settings.STORAGES = s3_storages(s3_bucket)
    school = factories.school("Alder Primary", services_=DESK)
    sign_in(client, factories.user(Role.SCHOOL_DPO, school, email="dpo@alder.invalid"))
    choose(client, school)
    response = client.post(
        "/school/service-desk/new/",
        {
            **new_request("Rows rejected"),
            "attachments": [SimpleUploadedFile("rows.csv", CSV), SimpleUploadedFile("screen.png", PNG)],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rows, image = the_attachments()
    # In the bucket under the prefix, by random key only; nothing in the attachment folder.
    assert s3_bucket.keys() == sorted([f"steward/{rows.storage_key}", f"steward/{image.storage_key}"])
    stored = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=f"steward/{rows.storage_key}")["Body"].read()
    assert stored == CSV
    assert not settings.STEWARD_ATTACHMENT_DIR.exists() or not any(settings.STEWARD_ATTACHMENT_DIR.iterdir())

    got = client.get(f"/school/service-desk/{rows.ticket_id}/attachments/{rows.pk}/")
    assert got.status_code == 200 and got["Content-Length"] == str(len(CSV))
    assert b"".join(got.streaming_content) == CSV  # type: ignore[attr-defined]
    got = client.get(f"/school/service-desk/{image.ticket_id}/attachments/{image.pk}/")
    assert b"".join(got.streaming_content) == PNG  # type: ignore[attr-defined]

    # Deleted from the bucket with its rows; a file gone from the store is a 404 that says so.
    attachments.delete_files([rows.storage_key])
    assert s3_bucket.keys() == [f"steward/{image.storage_key}"]
    gone = client.get(f"/school/service-desk/{rows.ticket_id}/attachments/{rows.pk}/")
    assert gone.status_code == 404


@pytest.mark.django_db
def test_a_schools_termination_export_goes_to_the_bucket_and_downloads_from_it(
    client: Client, settings: SettingsWrapper, s3_bucket: S3Bucket
) -> None:
    settings.STORAGES = s3_storages(s3_bucket)
    school = factories.school("Elder Primary", services_=DESK)
    record = termination.termination_start(
        contract=Contract.objects.get(school=school), requested_by="Processor Admin", reason="Joining a trust"
    )
    name = f"{school.urn}-{record.pk}.zip"
    assert record.export_file == name and s3_bucket.keys() == [f"steward/exports/{name}"]
    assert not Path(settings.STEWARD_TERMINATION_DIR, name).exists()

    sign_in(client, factories.user(Role.SCHOOL_ADMIN, school, email="admin@elder.invalid"))
    choose(client, school)
    got = client.get("/school/export/")
    assert got.status_code == 200
    data = b"".join(got.streaming_content)  # type: ignore[attr-defined]
    assert data[:2] == b"PK" and len(data) == record.export_bytes
    assert hashlib.sha256(data).hexdigest() == record.export_sha256


@pytest.mark.parametrize(
    ("url", "endpoint", "words"),
    [
        ("bucket/prefix", "", "is not s3://bucket or s3://bucket/prefix"),
        ("s3:///prefix", "", "is not s3://bucket or s3://bucket/prefix"),
        ("file:///srv/files", "", "is not s3://bucket or s3://bucket/prefix"),
        ("s3://files/steward", "minio.internal:9000", "STEWARD_S3_ENDPOINT_URL: 'minio.internal:9000' is not an"),
    ],
)
def test_a_file_store_that_is_not_understood_is_refused_by_name(url: str, endpoint: str, words: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(words)):
        files.storages_setting({"STEWARD_FILE_STORAGE": url, "STEWARD_S3_ENDPOINT_URL": endpoint})


def test_without_a_file_store_named_files_stay_in_the_attachment_folder() -> None:
    chosen = files.storages_setting({})
    assert chosen["default"] == {"BACKEND": "steward.core.files.AttachmentFolder"}
    assert chosen["exports"] == {"BACKEND": "steward.core.files.ExportFolder"}
    s3 = files.storages_setting({"STEWARD_FILE_STORAGE": "s3://files/a/b/"})
    assert s3["default"]["BACKEND"] == s3["exports"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3["default"]["OPTIONS"]
    assert (options["bucket_name"], options["location"], options["endpoint_url"]) == ("files", "a/b", None)
    assert s3["exports"]["OPTIONS"]["location"] == "a/b/exports"
    assert files.storages_setting({"STEWARD_FILE_STORAGE": "s3://files"})["exports"]["OPTIONS"]["location"] == "exports"


@pytest.fixture
def two_servers(
    request: pytest.FixtureRequest,
    committed_db: None,
    smtp_sink_server: SmtpSink,
    s3_bucket: S3Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, str]]:
    """Two `steward serve` processes (one worker each) on the test database and the test bucket."""
    if _TRAVEL_KEY in request.config.stash:
        pytest.skip("the test servers keep the real clock; STEWARD_TEST_TODAY moves only the test process")
    monkeypatch.setenv("STEWARD_FILE_STORAGE", f"s3://{s3_bucket.name}/shared")
    monkeypatch.setenv("STEWARD_S3_ENDPOINT_URL", s3_bucket.endpoint_url)
    with ExitStack() as stack:
        first = stack.enter_context(steward_server(smtp_sink_server, "--workers", "1"))
        second = stack.enter_context(steward_server(smtp_sink_server, "--workers", "1"))
        yield first, second


def _post(http: httpx.Client, form_url: str, url: str, data: dict[str, Any], **kw: Any) -> httpx.Response:
    """Read the form's CSRF token from `form_url`, then post to `url` (each may be either machine)."""
    page = http.get(form_url)
    assert page.status_code == 200, page.text[:1000]
    token = _CSRF.search(page.text)
    assert token is not None, page.text[:1000]
    return http.post(url, data={"csrfmiddlewaretoken": token.group(1), **data}, **kw)


def test_two_web_machines_behind_one_address_behave_as_one(two_servers: tuple[str, str], s3_bucket: S3Bucket) -> None:
    a, b = two_servers
    school: Organisation = factories.school("Hazel Academy", services_=DESK)
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dpo@hazel.invalid")
    # One cookie jar for both machines, as a browser has for one address (cookies ignore the port).
    with httpx.Client(timeout=60) as http:
        signed = _post(http, f"{a}/sign-in/", f"{a}/sign-in/", {"email": dpo.email, "password": factories.PASSWORD})
        assert signed.status_code == 302 and signed.headers["location"] == "/sign-in/verify/", signed.text[:500]
        # The second step on the other machine: the half-signed-in session is in the database.
        verified = _post(http, f"{b}/sign-in/verify/", f"{b}/sign-in/verify/", {"token": factories.current_code(dpo)})
        assert verified.status_code == 302 and "/sign-in/" not in verified.headers["location"], verified.text[:500]
        chose = _post(http, f"{a}/schools/", f"{b}/schools/switch/", {"school": school.id})
        assert chose.status_code == 302, chose.text[:500]

        sent = _post(
            http,
            f"{b}/school/service-desk/new/",
            f"{a}/school/service-desk/new/",
            new_request("Rows rejected"),
            files=[("attachments", ("rows.csv", CSV, "text/csv"))],
        )
        assert sent.status_code == 302, sent.text[:2000]
        [row] = the_attachments()
        assert s3_bucket.keys() == [f"shared/{row.storage_key}"]

        for machine in (b, a):
            got = http.get(f"{machine}/school/service-desk/{row.ticket_id}/attachments/{row.pk}/")
            assert got.status_code == 200 and got.content == CSV
            assert got.headers["content-disposition"] == 'attachment; filename="rows.csv"'
            page = http.get(f"{machine}/school/service-desk/{row.ticket_id}/")
            assert page.status_code == 200 and "rows.csv looks like it contains 1 pupil UPN" in page.text

        # Signed out on one machine, the session is over on both.
        _post(http, f"{a}/school/service-desk/", f"{b}/sign-out/", {})
        for machine in (a, b):
            after = http.get(f"{machine}/school/service-desk/{row.ticket_id}/attachments/{row.pk}/")
            assert after.status_code == 302 and "/sign-in/" in after.headers["location"]
