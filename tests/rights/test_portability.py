"""A pupil's portable archive keeps its CTF when some marks have no place in one, and says which.

The marks are on fixed dates: what a CTF can hold depends on the day of the week, not on today.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from steward.ingest.ctf import parse_ctf
from steward.mis.models import Learner
from steward.register.providers import Subject
from steward.rights.portability import write_portable
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.portal import families

pytestmark = pytest.mark.django_db

UPN = "F825300618043"


def portable_archive(marks: list[dict[str, object]]) -> zipfile.ZipFile:
    school: Organisation = factories.school("Rowan Primary")
    families.send(school, {"learners": [b.learner("L1", upn=UPN)], "session-attendance": marks}, mode="full")
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        out = io.BytesIO()
        write_portable(school=school, subject=Subject("learner", learner.pk, school.id), out=out)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def ctf_sessions(archive: zipfile.ZipFile) -> list[tuple[str, str, str]]:
    content = parse_ctf(archive.read("learner.ctf.xml"))
    return [(str(v["date"]), str(v["session"]), str(v["mark"])) for _, v in content.rows["session-attendance"]]


def test_a_weekend_mark_is_left_out_of_the_ctf_and_named_in_the_readme_not_the_whole_ctf() -> None:
    archive = portable_archive(
        [
            b.mark("L1", "2026-11-20", "AM"),  # a Friday
            b.mark("L1", "2026-11-20", "PM", "I"),
            b.mark("L1", "2026-11-22", "AM"),  # a Sunday: a CTF's marks run Monday to Friday
        ]
    )

    assert ctf_sessions(archive) == [("2026-11-20", "AM", "/"), ("2026-11-20", "PM", "I")]
    readme = archive.read("README.txt").decode()
    assert "Left out of learner.ctf.xml" in readme
    assert (
        "- 22 November 2026 AM, mark '/': it is a Sunday, and a CTF's attendance marks run Monday to Friday only"
        in (readme.splitlines())
    )
    assert "20 November" not in readme
    assert "No Common Transfer File" not in readme
    assert archive.read("csv/SessionAttendance.csv").decode().count("\n") == 4  # the header and all three marks


def test_a_two_character_code_is_left_out_of_the_ctf_and_named_with_its_reason() -> None:
    archive = portable_archive(
        [
            b.mark("L1", "2026-11-18", "AM"),
            b.mark("L1", "2026-11-18", "PM", "C1"),  # a valid code that has no one-character form
            b.mark("L1", "2026-11-19", "AM", "#"),  # a planned closure is a weekday mark the CTF holds
        ]
    )

    assert ctf_sessions(archive) == [("2026-11-18", "AM", "/"), ("2026-11-19", "AM", "#")]
    lines = archive.read("README.txt").decode().splitlines()
    assert [line for line in lines if line.startswith("- ")] == [
        "- 18 November 2026 PM, mark 'C1': the code has 2 characters, and a CTF's attendance marks have one per session"
    ]


def test_a_pupil_whose_marks_all_fit_gets_a_readme_without_a_left_out_list() -> None:
    archive = portable_archive([b.mark("L1", "2026-11-16", "AM"), b.mark("L1", "2026-11-16", "PM", "L")])

    assert ctf_sessions(archive) == [("2026-11-16", "AM", "/"), ("2026-11-16", "PM", "L")]
    assert "Left out" not in archive.read("README.txt").decode()
