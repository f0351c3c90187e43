"""A batch is one transaction: `kill -9` mid-merge leaves nothing behind, and re-sending is idempotent."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from django.db import connections

from steward.ingest.models import IngestBatch
from steward.mis.models import Learner, SessionAttendance
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.conftest import TEST_DB

LEARNERS = 800
DAYS = 190


def _big_batch(path: Path) -> int:
    """A school with a year of session attendance: big enough to kill mid-merge."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        learners = io.StringIO()
        writer = csv.writer(learners, lineterminator="\n")
        writer.writerow(["source_id", "legal_forename", "legal_surname", "date_of_birth", "gender"])
        for n in range(LEARNERS):
            writer.writerow([f"L{n}", "Sam", f"Jones{n}", "2014-05-01", "MF"[n % 2]])
        archive.writestr("learners.csv", learners.getvalue())
        with archive.open("session-attendance.csv", "w") as raw, io.TextIOWrapper(raw, newline="") as text:
            marks = csv.writer(text, lineterminator="\n")
            marks.writerow(["source_id", "learner_source_id", "date", "session", "mark"])
            for n in range(LEARNERS):
                for day in range(DAYS):
                    date = f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}"
                    marks.writerow([f"L{n}:{day}:AM", f"L{n}", date, "AM", "/"])
                    marks.writerow([f"L{n}:{day}:PM", f"L{n}", date, "PM", "\\"])
    return LEARNERS * DAYS * 2


def _ingest(path: Path, urn: int, app_name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "STEWARD_DB_NAME": TEST_DB, "PGAPPNAME": app_name}
    return subprocess.Popen(
        [sys.executable, "-m", "steward", "ingest", str(path), "--school", str(urn), "--mode", "full"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _backend_busy_with(app_name: str, needle: str) -> bool:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active' AND query LIKE %s",
            [app_name, f"%{needle}%"],
        )
        return bool(cursor.fetchone()[0])


def _backend_gone(app_name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name])
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the killed client's backend did not go away")


def test_kill_9_mid_merge_applies_nothing_and_a_resend_applies_once(committed_db: None, tmp_path: Path) -> None:
    school = factories.school("Crash Test Primary")
    batch_file = tmp_path / "nightly.zip"
    marks = _big_batch(batch_file)

    victim = _ingest(batch_file, school.urn or 0, "steward-crash-victim")
    deadline = time.monotonic() + 120
    while not _backend_busy_with("steward-crash-victim", 'INSERT INTO "mis_sessionattendance"'):
        assert victim.poll() is None, (
            f"the ingest finished before it could be killed: {victim.stdout.read() if victim.stdout else ''}"
        )
        assert time.monotonic() < deadline, "never saw the merge running"
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    _backend_gone("steward-crash-victim")

    with tenant_scope([school.id]):
        assert (Learner.objects.count(), SessionAttendance.objects.count(), IngestBatch.objects.count()) == (0, 0, 0)

    resend = _ingest(batch_file, school.urn or 0, "steward-crash-resend")
    output, _ = resend.communicate(timeout=300)
    assert resend.returncode == 0, output
    with tenant_scope([school.id]):
        assert SessionAttendance.objects.count() == marks
        assert IngestBatch.objects.get().counts["session-attendance"]["inserted"] == marks

    again = _ingest(batch_file, school.urn or 0, "steward-crash-again")
    output, _ = again.communicate(timeout=300)
    assert "already applied earlier; nothing done" in output
    with tenant_scope([school.id]):
        assert IngestBatch.objects.count() == 1
