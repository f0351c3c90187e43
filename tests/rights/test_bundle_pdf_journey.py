"""Issue #18: the access bundle's JSON and HTML at once, its PDF laid out in the background.

The DPO downloads a copy: the zip holds the JSON and HTML (and says the PDF follows); the request's
page says "PDF being prepared" and its progress page offers to check again; the task is queued on the
database task backend and run by django-tasks-db's own worker (`steward worker`), after which the
PDF of that same document downloads. A PDF that failed is shown in words with what to do.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from pypdf import PdfReader

from steward.rights import pdf_jobs
from steward.rights.models import AccessBundlePdf, RightsRequest
from steward.rights.tasks import send_rights_reminders
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.rights.test_end_to_end import act, dpo, learner_pk, log, office, school, unzip

__all__ = ["dpo", "office", "school"]  # fixtures, shared with the end-to-end tests

pytestmark = pytest.mark.django_db

# The deployment's backend (settings.TASKS outside tests): tasks wait in the database for a worker.
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def run_worker() -> list[Any]:
    """Run every queued task with django-tasks-db's worker (as `steward worker` does), claiming each
    as its loop does; the loop itself closes connections between tasks, which a test transaction
    cannot allow. Returns what the tasks returned."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    returned = []
    while (queued := DBTaskResult.objects.ready().first()) is not None:
        queued.claim(worker.worker_id)
        worker.run_task(queued)
        queued.refresh_from_db()
        assert queued.status == "SUCCESSFUL", queued.traceback
        returned.append(queued.return_value)
    return returned


def checked_access_request(office: Client, school: Organisation) -> RightsRequest:
    with tenant_scope([school.id]):
        request = log(office, "access", "learner", learner_pk(school))
    assert act(office, request, "identity").status_code == 302
    return request


def test_the_bundle_comes_at_once_and_its_pdf_when_the_worker_has_made_it(
    office: Client, school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    request = checked_access_request(office, school)
    page_url, pdf_url = f"/school/rights/{request.id}/", f"/school/rights/{request.id}/bundle.pdf"
    with override_settings(TASKS=DATABASE_TASKS):
        with django_capture_on_commit_callbacks(execute=True):  # the download commits: its task is queued
            bundle = unzip(act(office, request, "bundle"))
        assert set(bundle.namelist()) == {"bundle.json", "bundle.html", "README.txt"}
        assert "is being prepared" in bundle.read("README.txt").decode()
        document = json.loads(bundle.read("bundle.json"))
        assert document["held"]["mis"]["mis.Learner"][0]["source_id"] == "L1"

        [queued] = DBTaskResult.objects.ready()
        assert queued.task_path == "steward.rights.tasks.build_bundle_pdf"
        page = office.get(page_url).content.decode()
        assert "PDF being prepared" in page and "Download the PDF" not in page
        progress = office.get(f"/school/rights/{request.id}/pdf/").content.decode()
        assert "PDF being prepared" in progress and "Check again" in progress
        assert office.get(pdf_url).status_code == 404

        assert run_worker() == ["ready"]

    page = office.get(page_url).content.decode()
    assert "PDF ready" in page and "PDF being prepared" not in page and pdf_url in page
    progress = office.get(f"/school/rights/{request.id}/pdf/").content.decode()
    assert "Check again" not in progress and "Download the PDF" in progress
    response = office.get(pdf_url)
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Sam" in text and "Your personal data" in text


def test_a_newer_download_replaces_a_pending_pdf_and_the_old_task_finds_it_gone(
    office: Client, school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    request = checked_access_request(office, school)
    with override_settings(TASKS=DATABASE_TASKS):
        with django_capture_on_commit_callbacks(execute=True):
            unzip(act(office, request, "bundle"))
        with django_capture_on_commit_callbacks(execute=True):
            unzip(act(office, request, "bundle"))
        assert sorted(run_worker()) == ["gone", "ready"]
    with tenant_scope([school.id]):
        assert list(AccessBundlePdf.objects.filter(request=request).values_list("status", flat=True)) == ["ready"]


def test_a_failed_pdf_is_explained_with_what_to_do(
    office: Client, school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    request = checked_access_request(office, school)
    with override_settings(TASKS=DATABASE_TASKS), django_capture_on_commit_callbacks(execute=True):
        unzip(act(office, request, "bundle"))
    with tenant_scope([school.id]):
        AccessBundlePdf.objects.filter(request=request).update(
            status="failed", error="The PDF could not be made (MemoryError)."
        )
    for url in (f"/school/rights/{request.id}/", f"/school/rights/{request.id}/pdf/"):
        page = office.get(url).content.decode()
        assert "PDF failed" in page and "The PDF could not be made (MemoryError)." in page
        assert pdf_jobs.FAILED_ADVICE in page
    assert office.get(f"/school/rights/{request.id}/bundle.pdf").status_code == 404


def test_a_pdf_the_worker_never_made_says_so_and_the_daily_task_deletes_pdfs_after_a_week(
    office: Client, school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    request = checked_access_request(office, school)
    with override_settings(TASKS=DATABASE_TASKS), django_capture_on_commit_callbacks(execute=True):
        unzip(act(office, request, "bundle"))  # queued; no worker runs it
    page_url = f"/school/rights/{request.id}/"
    assert pdf_jobs.STALLED_ADVICE not in office.get(page_url).content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=11), tick=False):
        page = office.get(page_url).content.decode()
        assert "PDF being prepared" in page and pdf_jobs.STALLED_ADVICE in page

    with time_machine.travel(timezone.now() + pdf_jobs.KEPT - dt.timedelta(minutes=1), tick=False):
        send_rights_reminders.enqueue()  # the daily rights task (the immediate backend runs it at once)
    with tenant_scope([school.id]):
        assert AccessBundlePdf.objects.filter(request=request).count() == 1
    with time_machine.travel(timezone.now() + pdf_jobs.KEPT + dt.timedelta(minutes=1), tick=False):
        send_rights_reminders.enqueue()
    with tenant_scope([school.id]):
        assert not AccessBundlePdf.objects.filter(request=request).exists()
