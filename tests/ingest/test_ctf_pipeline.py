"""CTF through the real pipeline: import, export, re-import with no loss; hostile XML refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from steward.ingest.exports import ctf_export
from steward.ingest.records import BatchRejected
from steward.ingest.services import batch_ingest
from steward.mis.models import Contact, Learner, LearnerContact, SessionAttendance
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def sample_school() -> Organisation:
    """The school the sample CTF says it comes from."""
    from lxml import etree

    header = etree.fromstring((FIXTURES / "ctf_sample.xml").read_bytes()).find("Header/SourceSchool")
    assert header is not None
    from steward.tenancy import services

    school = services.school_create(
        name="Sample School",
        urn=int(header.findtext("URN") or 0),
        la_code=header.findtext("LEA") or "",
        establishment_number=header.findtext("Estab") or "",
        phase="primary",
    )
    return school


def _ingest(school: Organisation, data: bytes) -> dict[str, dict[str, int]]:
    batch = batch_ingest(school=school, stream=io.BytesIO(data), format="ctf", mode="full", sent_by="test").batch
    return batch.counts


def _snapshot(school: Organisation) -> dict[str, list[tuple[object, ...]]]:
    with tenant_scope([school.id]):
        return {
            model.record_type: sorted(model.objects.values_list("source_id", "content_hash"))
            for model in (Learner, Contact, LearnerContact, SessionAttendance)
        }


def test_a_ctf_imports_exports_and_reimports_with_no_change(sample_school: Organisation) -> None:
    counts = _ingest(sample_school, (FIXTURES / "ctf_sample.xml").read_bytes())
    assert counts["learners"]["inserted"] >= 1
    before = _snapshot(sample_school)
    exported = ctf_export(school=sample_school, actor_label="test")
    again = _ingest(sample_school, exported)
    assert all(c["inserted"] == c["updated"] == c["deleted"] == 0 for c in again.values()), again
    assert _snapshot(sample_school) == before


def test_a_ctf_from_another_school_is_refused(sample_school: Organisation) -> None:
    other = factories.school("Not The Sender")
    with pytest.raises(BatchRejected) as caught:
        _ingest(other, (FIXTURES / "ctf_sample.xml").read_bytes())
    assert caught.value.status == 403


@pytest.mark.parametrize("fixture", ["billion_laughs.xml", "xxe_passwd.xml"])
def test_hostile_xml_is_refused_and_changes_nothing(sample_school: Organisation, fixture: str) -> None:
    with pytest.raises(BatchRejected) as caught:
        _ingest(sample_school, (FIXTURES / fixture).read_bytes())
    assert caught.value.errors[0].field == "DOCTYPE"
    with tenant_scope([sample_school.id]):
        assert Learner.objects.count() == 0


def test_a_generated_ctf_imports_into_its_school(tmp_path: Path) -> None:
    from steward.demo.synthetic import generate
    from steward.tenancy import services

    manifest = generate(tmp_path, schools=1, seed=7, formats={"ctf"}, scale=0.1)
    entry = manifest["schools"][0]
    school = services.school_create(
        name=entry["name"],
        urn=int(entry["urn"]),
        la_code=str(entry["la_code"]),
        establishment_number=str(entry["establishment_number"]),
        phase="primary",
    )
    counts = _ingest(school, (tmp_path / f"{entry['urn']}.ctf.xml").read_bytes())
    assert counts["learners"]["inserted"] == entry["learners"]
    assert counts["session-attendance"]["inserted"] > 0
