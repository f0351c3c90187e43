"""The OneRoster 1.2 CSV binding: `steward oneroster export` and the scheduled `oneroster-csv` delivery.

The zips are read back and checked against the binding's tables written down in
`schemas/oneroster_csv.json` (columns in order, required cells, enumerations, dates, references),
compared with what the REST binding gives the same recipient, and searched for what the flow does
not release. Today is fixed by the conftest (autumn term 2026).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.mis.models import GroupEnrolment, Learner, Tombstone
from steward.register.models import ProcessingActivity, Recipient
from steward.rostering.ids import subject_id
from steward.sharing import delivery
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow, DeliveryAttempt, Disclosure, FlowDelivery
from steward.sharing.tasks import deliver_flow_task
from steward.tenancy.models import Organisation
from steward.tenancy.scope import processor_scope, tenant_scope
from tests.provisioning.conftest import records, send
from tests.rostering.conftest import (
    CATEGORIES,
    ROSTER_FIELDS,
    SCHEMAS,
    approve,
    get,
    make_school,
    pupil,
    school_records,
)

pytestmark = pytest.mark.django_db

SPEC: dict[str, Any] = json.loads((SCHEMAS / "oneroster_csv.json").read_text())
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BULK_FILES = {"orgs", "academicSessions", "courses", "classes", "users", "roles", "enrollments"}


@dataclass
class Zip:
    """A OneRoster CSV zip as read back: the manifest, each file's header and rows (as dicts)."""

    names: list[str]
    manifest: dict[str, str]
    headers: dict[str, list[str]]
    rows: dict[str, list[dict[str, str]]]
    raw: bytes

    def ids(self, name: str) -> set[str]:
        return {r["sourcedId"] for r in self.rows[name]}


def read_zip(path: Path) -> Zip:
    raw = path.read_bytes()
    headers: dict[str, list[str]] = {}
    rows: dict[str, list[dict[str, str]]] = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = archive.namelist()
        for name in names:
            text = archive.read(name).decode("utf-8")
            assert "\r\n" in text and "\n" not in text.replace("\r\n", ""), f"{name}: rows end in CRLF"
            table = list(csv.reader(io.StringIO(text, newline="")))
            headers[name.removesuffix(".csv")] = table[0]
            assert all(len(row) == len(table[0]) for row in table[1:]), f"{name}: a row of another width"
            rows[name.removesuffix(".csv")] = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    manifest = {r["propertyName"]: r["value"] for r in rows.pop("manifest")}
    headers.pop("manifest")
    return Zip(names, manifest, headers, rows, raw)


def validate(found: Zip) -> None:
    """Check a zip against the binding's tables: manifest, headers, cells, enumerations, references."""
    spec_manifest = SPEC["manifest"]
    assert found.names[0] == "manifest.csv"
    assert list(found.manifest)[:2] == ["manifest.version", "oneroster.version"]
    assert (found.manifest["manifest.version"], found.manifest["oneroster.version"]) == ("1.0", "1.2")
    assert [k for k in found.manifest if k.startswith("file.")] == [f"file.{n}" for n in spec_manifest["files"]]
    assert found.manifest["source.systemName"] and found.manifest["source.systemCode"]
    modes = {n: found.manifest[f"file.{n}"] for n in spec_manifest["files"]}
    assert set(modes.values()) <= set(spec_manifest["modes"])
    assert {n for n, m in modes.items() if m != "absent"} == set(found.rows), "the manifest lists what is sent"
    assert len(set(modes.values()) - {"absent"}) <= 1
    for name, rows in found.rows.items():
        table = SPEC["files"][name]
        assert found.headers[name] == table["columns"], name
        for row in rows:
            _validate_row(name, table, row, modes[name])
        if modes[name] == "bulk":
            for column, target in table.get("references", {}).items():
                known = found.ids(target) if target in found.rows else set()
                for row in rows:
                    for ref in filter(None, row[column].split(",")):
                        assert ref in known, f"{name}.{column} refers to {ref}, not in {target}.csv"


def _validate_row(name: str, table: dict[str, Any], row: dict[str, str], mode: str) -> None:
    if mode == "bulk":
        assert (row["status"], row["dateLastModified"]) == ("", ""), f"{name}: bulk leaves status empty"
    else:
        assert row["status"] in ("active", "tobedeleted"), name
        assert INSTANT.match(row["dateLastModified"]), (name, row["dateLastModified"])
    deleted = row["status"] == "tobedeleted"
    for column in ["sourcedId"] if deleted else table["required"]:
        assert row[column], f"{name}: {column} is required"
    for column, allowed in table.get("enums", {}).items():
        assert row[column] == "" or row[column] in allowed, (name, column, row[column])
    for column in table.get("dates", []):
        assert row[column] == "" or DAY.match(row[column]), (name, column, row[column])
    for column in table.get("years", []):
        assert re.match(r"^\d{4}$", row[column]), (name, column, row[column])


def export(school: Organisation, out: Path, recipient: str = "learning-app", since: str | None = None) -> Zip:
    options = ["--school", str(school.urn), "--recipient", recipient, "--out", str(out)]
    call_command("oneroster", "export", *options, *(["--delta-since", since] if since else []), stdout=io.StringIO())
    return read_zip(out)


def disclosures(school: Organisation) -> list[Disclosure]:
    with tenant_scope([school.id]):
        return list(Disclosure.objects.order_by("record_type", "id"))


# --- bulk --------------------------------------------------------------------------------------


def test_a_bulk_export_holds_the_released_files_with_the_bindings_headers(
    approved: DataFlow, school: Organisation, tmp_path: Path
) -> None:
    found = export(school, tmp_path / "roster.zip")
    validate(found)
    assert found.names == ["manifest.csv", *(f"{n}.csv" for n in SPEC["files"] if n in BULK_FILES)]
    assert {k.removeprefix("file."): v for k, v in found.manifest.items() if v == "bulk"} == dict.fromkeys(
        BULK_FILES, "bulk"
    )
    assert found.manifest["file.demographics"] == "absent"  # the flow releases no date of birth or gender
    assert found.headers["users"][:4] == ["sourcedId", "status", "dateLastModified", "enabledUser"]
    assert found.headers["users"][-2:] == ["primaryOrgSourcedId", "pronouns"]
    counts = {name: len(rows) for name, rows in found.rows.items()}
    assert counts == {
        "orgs": 1,
        "academicSessions": 4,
        "courses": 2,
        "classes": 3,
        "users": 4,
        "roles": 4,
        "enrollments": 4,
    }
    amy = next(u for u in found.rows["users"] if u["givenName"] == "Ames")
    assert (amy["familyName"], amy["preferredGivenName"], amy["grades"], amy["enabledUser"]) == (
        "Khan",
        "Ames",
        "07",
        "true",
    )
    maths = next(c for c in found.rows["classes"] if c["title"] == "7 Maths set 1")
    assert (maths["classCode"], maths["classType"], maths["subjects"]) == ("7Ma1", "scheduled", "Maths")
    assert len(maths["termSourcedIds"].split(",")) == 3
    roles = {r["userSourcedId"]: r for r in found.rows["roles"]}
    assert (roles[amy["sourcedId"]]["role"], roles[amy["sourcedId"]]["roleType"]) == ("student", "primary")
    assert roles[amy["sourcedId"]]["orgSourcedId"] == amy["primaryOrgSourcedId"] == found.rows["orgs"][0]["sourcedId"]


def test_a_bulk_export_is_what_the_rest_binding_gives_the_same_recipient(
    client: Client, bearer: str, approved: DataFlow, school: Organisation, tmp_path: Path
) -> None:
    found = export(school, tmp_path / "roster.zip")
    pairs = {
        "orgs": ("orgs", "orgs"),
        "academicSessions": ("academicSessions", "academicSessions"),
        "courses": ("courses", "courses"),
        "classes": ("classes", "classes"),
        "users": ("users", "users"),
        "enrollments": ("enrollments", "enrollments"),
    }
    for name, (path, key) in pairs.items():
        rest = get(client, bearer, path, limit="1000").json()[key]
        assert found.ids(name) == {r["sourcedId"] for r in rest}, name
    rest_users = {u["sourcedId"]: u for u in get(client, bearer, "users").json()["users"]}
    for row in found.rows["users"]:
        user = rest_users[row["sourcedId"]]
        assert (row["givenName"], row["familyName"]) == (user["givenName"], user["familyName"])
        assert row["primaryOrgSourcedId"] == user["primaryOrg"]["sourcedId"]
    rest_enrollments = {e["sourcedId"]: e for e in get(client, bearer, "enrollments").json()["enrollments"]}
    for row in found.rows["enrollments"]:
        enrollment = rest_enrollments[row["sourcedId"]]
        assert (row["classSourcedId"], row["userSourcedId"], row["beginDate"]) == (
            enrollment["class"]["sourcedId"],
            enrollment["user"]["sourcedId"],
            enrollment["beginDate"],
        )
    expected = subject_id(recipient_code="learning-app", school_urn=school.urn or 0, kind="student", source_id="L1")
    assert expected in found.ids("users")
    text = str(found.rows)
    assert not [mis_id for mis_id in ("L1", "L2", "L3", "S1", "G7A", "GEL1G7A") if mis_id in text]  # never sent


def test_fields_the_flow_does_not_release_never_appear(school: Organisation, tmp_path: Path) -> None:
    approve(
        school,
        "learning-app",
        fields=["learners.legal_forename", "learners.legal_surname", "groups.name"],
        categories=["learner.identity", "learner.groups"],
    )
    found = export(school, tmp_path / "roster.zip")
    validate(found)
    assert set(found.rows) == {"orgs", "academicSessions", "courses", "classes", "users", "roles"}
    assert found.manifest["file.enrollments"] == found.manifest["file.demographics"] == "absent"
    for user in found.rows["users"]:
        assert (user["email"], user["preferredGivenName"], user["grades"]) == ("", "", "")
    for group in found.rows["classes"]:
        assert (group["classCode"], group["subjects"]) == ("", "")
    assert sorted(u["givenName"] for u in found.rows["users"]) == ["Amy", "Ben", "Zoe"]  # no staff released
    text = str(found.rows)
    for never in ("amy@pupils.example", "Ames", "7Ma1", "Bloggs"):
        assert never not in text
    # Without the subject each group is its own course, titled by the group's (released) name.
    assert sorted(c["title"] for c in found.rows["courses"]) == sorted(c["title"] for c in found.rows["classes"])


def test_demographics_only_with_a_flow_releasing_them(school: Organisation, tmp_path: Path) -> None:
    approve(
        school,
        "microsoft-365",
        fields=["learners.legal_forename", "learners.legal_surname", "learners.date_of_birth", "learners.gender"],
        categories=["learner.identity"],
    )
    found = export(school, tmp_path / "roster.zip", recipient="microsoft-365")
    validate(found)
    assert found.manifest["file.demographics"] == "bulk"
    assert "demographics.csv" in found.names
    assert {(d["birthDate"], d["sex"]) for d in found.rows["demographics"]} == {("2015-03-02", "female")}
    assert {d["sourcedId"] for d in found.rows["demographics"]} <= found.ids("users")
    assert all(d["white"] == d["asian"] == "" for d in found.rows["demographics"])  # no special category


def test_another_schools_data_never_appears(approved: DataFlow, school: Organisation, tmp_path: Path) -> None:
    other = make_school("Hawthorn School")
    approve(other, "learning-app")  # the recipient has flows at both schools
    found = export(school, tmp_path / "roster.zip")
    assert [o["name"] for o in found.rows["orgs"]] == ["Willow Academy"]
    theirs = {
        subject_id(recipient_code="learning-app", school_urn=other.urn or 0, kind=kind, source_id=source)
        for kind, source in [("student", "L1"), ("student", "L2"), ("teacher", "S1"), ("class", "G7A")]
    }
    assert not theirs & (found.ids("users") | found.ids("classes"))
    assert len(found.rows["users"]) == 4
    assert disclosures(other) == []


def test_cells_that_a_spreadsheet_would_run_are_made_inert(
    approved: DataFlow, school: Organisation, tmp_path: Path
) -> None:
    send(school, {"groups": [{"source_id": "GX", "name": '=HYPERLINK("http://x.example")', "group_type": "class"}]})
    found = export(school, tmp_path / "roster.zip")
    titles = {c["title"] for c in found.rows["classes"]}
    assert '\'=HYPERLINK("http://x.example")' in titles
    assert not any(cell.startswith("=") for rows in found.rows.values() for row in rows for cell in row.values())


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("school_option", "recipient", "message"),
    [
        ("999999", "learning-app", "--school: no school has the URN 999999"),
        ("ten", "learning-app", "--school: 'ten' is not a URN"),
        (None, "no-such-recipient", "--recipient: no recipient 'no-such-recipient' in the register"),
        (None, "microsoft-365", "has no approved rostering flow releasing to microsoft-365"),
    ],
)
def test_a_bad_school_recipient_or_missing_flow_is_refused_and_writes_nothing(
    approved: DataFlow,
    school: Organisation,
    tmp_path: Path,
    school_option: str | None,
    recipient: str,
    message: str,
) -> None:
    other = make_school("Hawthorn School")
    approve(other, "microsoft-365")  # a flow to that recipient at another school does not count
    out = tmp_path / "roster.zip"
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(
            "oneroster",
            "export",
            "--school",
            school_option or str(school.urn),
            "--recipient",
            recipient,
            "--out",
            str(out),
        )
    assert list(tmp_path.iterdir()) == []
    assert disclosures(school) == [] and disclosures(other) == []
    with processor_scope():
        assert not AuditEvent.objects.filter(action="oneroster_csv_exported").exists()


def test_a_suspended_flow_exports_nothing(approved: DataFlow, school: Organisation, tmp_path: Path) -> None:
    with tenant_scope([school.id]):
        sharing.flow_suspend(flow=approved, actor=Actor.system("DPO"))
    with pytest.raises(CommandError, match="no approved rostering flow releasing to learning-app"):
        export(school, tmp_path / "roster.zip")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("since", "message"),
    [("yesterday", "is not an ISO 8601 time"), ("2026-11-01T00:00:00", "has no time zone")],
)
def test_a_bad_delta_time_is_refused(
    approved: DataFlow, school: Organisation, tmp_path: Path, since: str, message: str
) -> None:
    with pytest.raises(CommandError, match=f"--delta-since: .*{message}"):
        export(school, tmp_path / "roster.zip", since=since)
    assert list(tmp_path.iterdir()) == []


# --- disclosures -------------------------------------------------------------------------------


def test_an_export_is_one_disclosure_per_record_type_and_audited(
    approved: DataFlow, school: Organisation, tmp_path: Path
) -> None:
    export(school, tmp_path / "roster.zip")
    logged = disclosures(school)
    assert [(d.record_type, d.channel, d.record_count) for d in logged] == [
        ("group-enrolments", "export", 4),
        ("groups", "export", 3),  # each group once, though it is a class and inside its course
        ("learners", "export", 3),
        ("staff", "export", 1),
    ]
    by_type = {d.record_type: d for d in logged}
    assert sorted(by_type["learners"].subject_ids) == ["L1", "L2", "L3"]
    assert sorted(by_type["group-enrolments"].subject_ids) == ["L1", "L2", "L3"]
    assert by_type["staff"].subject_ids == ["S1"]
    assert all(d.flows == [approved.id] for d in logged)
    with processor_scope():
        event = AuditEvent.objects.get(action="oneroster_csv_exported")
    assert (event.school_id, event.actor_label) == (school.id, "steward oneroster export")
    assert sorted(event.object_ids) == sorted(str(d.pk) for d in logged)
    assert event.detail["mode"] == "bulk" and event.detail["files"]["users"] == 4


# --- delta -------------------------------------------------------------------------------------


def _newest(client: Client, bearer: str) -> dt.datetime:
    """The newest dateLastModified of anything the recipient sees (the delta point of the tests: the
    MIS stamps rows with the database's clock, which stands still inside a test's transaction)."""
    stamps = [
        r["dateLastModified"]
        for path, key in [("orgs", "orgs"), ("academicSessions", "academicSessions"), ("users", "users")]
        + [("classes", "classes"), ("enrollments", "enrollments"), ("courses", "courses")]
        for r in get(client, bearer, path, limit="1000").json()[key]
    ]
    return max(dt.datetime.fromisoformat(s) for s in stamps)


def _change_and_delete(school: Organisation, after: dt.datetime) -> None:
    """Zoe is renamed Zed, Ben leaves (his learner row and class membership become tombstones): all
    stamped a minute after `after`."""
    remaining = school_records()
    for record_type in ("learners", "school-enrolments", "group-enrolments"):
        remaining[record_type] = [
            r for r in remaining[record_type] if "L3" not in (r["source_id"], r.get("learner_source_id"))
        ]
    send(school, remaining, mode="full")
    send(school, records(pupil("L2", "Zed", "R", "G7A")), mode="delta")
    later = after + dt.timedelta(minutes=1)
    with tenant_scope([school.id]):
        assert Tombstone.objects.filter(source_id__in=["L3", "GEL3G8MA"]).update(deleted_at=later) == 2
        assert Learner.objects.filter(source_id="L2").update(updated_at=later) == 1


def test_a_delta_holds_only_what_changed_and_the_deletions(
    client: Client, bearer: str, approved: DataFlow, school: Organisation, tmp_path: Path
) -> None:
    since = _newest(client, bearer)
    unchanged = export(school, tmp_path / "none.zip", since=since.isoformat())
    validate(unchanged)
    assert unchanged.rows == {}  # nothing changed: every file absent, none sent
    assert {v for k, v in unchanged.manifest.items() if k.startswith("file.")} == {"absent"}

    _change_and_delete(school, since)
    found = export(school, tmp_path / "delta.zip", since=since.isoformat())
    validate(found)
    assert {k.removeprefix("file."): v for k, v in found.manifest.items() if v == "delta"} == {
        "users": "delta",
        "roles": "delta",
        "enrollments": "delta",
    }
    assert set(found.rows) == {"users", "roles", "enrollments"}
    gone = subject_id(recipient_code="learning-app", school_urn=school.urn or 0, kind="student", source_id="L3")
    zed = subject_id(recipient_code="learning-app", school_urn=school.urn or 0, kind="student", source_id="L2")
    assert sorted((u["sourcedId"], u["status"], u["givenName"]) for u in found.rows["users"]) == sorted(
        [(gone, "tobedeleted", ""), (zed, "active", "Zed")]
    )
    assert {r["userSourcedId"]: r["status"] for r in found.rows["roles"]} == {gone: "tobedeleted", zed: "active"}
    [enrollment] = found.rows["enrollments"]
    assert enrollment["status"] == "tobedeleted"
    stamp = (since + dt.timedelta(minutes=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert {r["dateLastModified"] for rows in found.rows.values() for r in rows} == {stamp}
    bulk = export(school, tmp_path / "bulk.zip")
    assert gone not in bulk.ids("users") and zed in bulk.ids("users")  # bulk: active records only


# --- scheduled delivery ------------------------------------------------------------------------


def _export_flow(school: Organisation, folder: Path) -> DataFlow:
    actor = Actor.system("DPO")
    with tenant_scope([school.id]):
        flow = sharing.flow_request(
            school=school,
            recipient=Recipient.objects.get(code="learning-app"),
            activity=ProcessingActivity.objects.get(service="rostering"),
            purpose="Accounts and classes on the learning platform, by nightly file",
            lawful_basis="6.1.e",
            categories=CATEGORIES,
            frequency="daily",
            delivery="export",
            actor=actor,
        )
        flow = sharing.flow_approve(flow=flow, actor=actor, fields=ROSTER_FIELDS)
        delivery.delivery_target_set(flow=flow, export_folder=str(folder), export_format="oneroster-csv")
    return flow


def test_a_scheduled_delivery_drops_the_zip_then_deltas(client: Client, school: Organisation, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    flow = _export_flow(school, folder)
    assert delivery.due_flow_ids(frequency="daily") == [flow.id]

    first = deliver_flow_task.enqueue(flow.id)
    assert (first.status, first.return_value) == ("SUCCESSFUL", "succeeded")
    [zip_path] = folder.iterdir()
    assert re.match(rf"^{school.urn}-oneroster-bulk-\d{{8}}T\d{{6}}Z\.zip$", zip_path.name)
    delivered = read_zip(zip_path)
    validate(delivered)
    assert set(delivered.rows) == BULK_FILES
    command = export(school, tmp_path / "command.zip")
    assert {n: delivered.ids(n) for n in BULK_FILES} == {n: command.ids(n) for n in BULK_FILES}
    with tenant_scope([school.id]):
        watermark = FlowDelivery.objects.get(flow=flow, record_type="oneroster-csv").delivered_to_time
        attempt = DeliveryAttempt.objects.get(flow=flow)
    assert watermark is not None
    assert (attempt.status, attempt.record_count) == ("succeeded", sum(len(r) for r in delivered.rows.values()))
    exported = [d for d in disclosures(school) if d.flows == [flow.id]]
    assert {d.record_type for d in exported} == {"groups", "learners", "staff", "group-enrolments"}
    with processor_scope():
        event = AuditEvent.objects.filter(action="oneroster_csv_exported", actor_label="Scheduled delivery").get()
    assert event.school_id == school.id

    again = deliver_flow_task.enqueue(flow.id)  # nothing changed: no file
    assert again.return_value == "succeeded"
    assert len(list(folder.iterdir())) == 1

    with tenant_scope([school.id]):
        later = watermark + dt.timedelta(minutes=1)
        assert Learner.objects.filter(source_id="L2").update(updated_at=later, legal_forename="Zed") == 1
        GroupEnrolment.objects.filter(source_id="GEL2G7A").update(updated_at=later)
    third = deliver_flow_task.enqueue(flow.id)
    assert third.return_value == "succeeded"
    [delta_path] = [p for p in folder.iterdir() if p != zip_path]
    assert "-oneroster-delta-" in delta_path.name
    delta = read_zip(delta_path)
    validate(delta)
    assert set(delta.rows) == {"users", "roles", "enrollments"}
    assert [(u["givenName"], u["status"]) for u in delta.rows["users"]] == [("Zed", "active")]
    with tenant_scope([school.id]):
        moved = FlowDelivery.objects.get(flow=flow, record_type="oneroster-csv").delivered_to_time
    assert moved == later


def test_a_delivery_to_a_missing_folder_fails_and_discloses_nothing(school: Organisation, tmp_path: Path) -> None:
    flow = _export_flow(school, tmp_path / "gone")
    attempt = delivery.deliver_flow(flow_id=flow.id)
    assert attempt is not None and attempt.status == "failed"
    assert "FileNotFoundError" in attempt.detail
    assert disclosures(school) == []
    with tenant_scope([school.id]):
        assert FlowDelivery.objects.get(flow=flow, record_type="oneroster-csv").delivered_to_time is None
