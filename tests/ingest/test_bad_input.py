"""Input no parser expects answers a specific 4xx problem, records why, and changes nothing.

Each case here once reached the database or the JSON decoder unchecked and came back as a 500:
a zip entry whose header understates its size, a NUL (PostgreSQL text cannot hold one), a lone
UTF-16 surrogate (no UTF-8 for it), JSON nested 10,000 deep, a 5,000-digit number (beyond
Python's int-from-text limit).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from django.test import Client

from steward.ingest.models import IngestBatch
from steward.mis.models import Learner
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.ingest import builders as b
from tests.ingest.test_api import upload

pytestmark = pytest.mark.django_db


def _understated(data: bytes, declared: int) -> bytes:
    """The zip with every entry's uncompressed size (local header and central directory) set to `declared`."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset : start + offset + 4] = struct.pack("<I", declared)
            start = patched.find(signature, start + 4)
    return bytes(patched)


def _nothing_stored(school: Organisation) -> None:
    with tenant_scope([school.id]):
        assert Learner.objects.count() == 0
        assert not IngestBatch.objects.filter(status=IngestBatch.Status.APPLIED).exists()


def test_a_zip_entry_bigger_than_its_header_says_is_refused(
    client: Client, agent_a: str, school_a: Organisation
) -> None:
    status, body = upload(client, agent_a, _understated(b.csv_zip({"learners": [b.learner("L1")]}), 10))
    assert status == 422, body
    assert body["errors"] == [
        {
            "record_type": "learners",
            "ref": "learners.csv",
            "source_id": None,
            "field": "file",
            "reason": "is damaged: its size or checksum does not match the archive's directory",
        }
    ]
    _nothing_stored(school_a)


def test_a_damaged_deletes_file_is_refused(client: Client, agent_a: str, school_a: Organisation) -> None:
    data = b.csv_zip({}, deletes=[("learners", f"L{i}") for i in range(50)])
    status, body = upload(client, agent_a, _understated(data, 10), mode="delta")
    assert status == 422, body
    assert [(e["ref"], e["field"]) for e in body["errors"]] == [("deletes.csv", "file")]


def _learner_json(**fields: Any) -> dict[str, Any]:
    return {"records": {"learners": [b.learner("L1", **fields)]}}


def _ndjson(record: dict[str, Any]) -> bytes:
    return json.dumps({"type": "learners", "record": record}).encode() + b"\n"


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Sa\x00m", "contains a NUL character (\\u0000), which no text field can hold"),
        ("Sa\ud800m", "contains a lone UTF-16 surrogate (\\ud800 to \\udfff), which is not a character"),
    ],
    ids=["nul", "lone-surrogate"],
)
def test_text_no_database_can_hold_is_refused_by_record_and_field(
    client: Client, agent_a: str, school_a: Organisation, fmt: str, value: str, reason: str
) -> None:
    record = b.learner("L1", legal_forename=value)
    data = json.dumps(_learner_json(legal_forename=value)).encode() if fmt == "json" else _ndjson(record)
    status, body = upload(client, agent_a, data, fmt=fmt)
    assert status == 422, body
    ref = "$.records.learners[0]" if fmt == "json" else "line 1"
    assert body["errors"] == [
        {"record_type": "learners", "ref": ref, "source_id": "L1", "field": "legal_forename", "reason": reason}
    ]
    _nothing_stored(school_a)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize("key", ["legal\x00forename", "legal\udc80forename"], ids=["nul", "lone-surrogate"])
def test_a_field_name_no_database_can_hold_is_refused_and_quoted_safely(
    client: Client, agent_a: str, school_a: Organisation, fmt: str, key: str
) -> None:
    record = {**b.learner("L1"), key: "Sam"}
    data = json.dumps({"records": {"learners": [record]}}).encode() if fmt == "json" else _ndjson(record)
    status, body = upload(client, agent_a, data, fmt=fmt)
    assert status == 422, body
    [error] = body["errors"]
    assert error["field"] == key.encode("unicode_escape").decode("ascii")
    assert error["reason"].startswith("this field name contains")
    with tenant_scope([school_a.id]):
        assert IngestBatch.objects.get().errors == [error]  # the kept batch holds the same, storable text
    _nothing_stored(school_a)


def test_a_nul_in_a_deleted_id_is_refused(client: Client, agent_a: str, school_a: Organisation) -> None:
    data = json.dumps({"records": {}, "deletes": {"learners": ["L\x001"]}}).encode()
    status, body = upload(client, agent_a, data, fmt="json", mode="delta")
    assert status == 422, body
    assert [(e["ref"], e["field"]) for e in body["errors"]] == [("$.deletes.learners[0]", "source_id")]


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_nested_ten_thousand_deep_is_refused(
    client: Client, agent_a: str, school_a: Organisation, fmt: str
) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    text = (
        '{"records": {"learners": [{"source_id": "L1", "photo": %s}]}}'
        if fmt == "json"
        else ('{"type": "learners", "record": {"source_id": "L1", "photo": %s}}')
    )
    status, body = upload(client, agent_a, (text % deep).encode(), fmt=fmt)
    assert status == 422, body
    [error] = body["errors"]
    assert (error["ref"], error["field"]) == (
        "file" if fmt == "json" else "line 1",
        "file" if fmt == "json" else "line",
    )
    assert "nested too deeply" in error["reason"]
    _nothing_stored(school_a)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_a_five_thousand_digit_number_is_checked_like_any_other_value(
    client: Client, agent_a: str, school_a: Organisation, fmt: str
) -> None:
    huge = "9" * 5000
    links = {"source_id": "LC1", "learner_source_id": "L1", "contact_source_id": "C1", "relationship": "PAR"}
    if fmt == "json":
        text = json.dumps({"records": {"learner-contacts": [{**links, "priority": 0}]}}).replace(
            '"priority": 0', f'"priority": {huge}'
        )
    else:
        text = json.dumps({"type": "learner-contacts", "record": {**links, "priority": 0}}).replace(
            '"priority": 0', f'"priority": {huge}'
        )
    status, body = upload(client, agent_a, text.encode(), fmt=fmt)
    assert status == 422, body
    priority = [e for e in body["errors"] if e["field"] == "priority"]
    assert [(e["source_id"], e["reason"]) for e in priority] == [("LC1", "is not a whole number in range")]
    _nothing_stored(school_a)


@pytest.mark.parametrize("urn", ["9" * 5000, "1" + "0" * 12])
def test_a_school_urn_of_absurd_length_is_refused(
    client: Client, agent_a: str, school_a: Organisation, urn: str
) -> None:
    text = '{"school": {"urn": URN}, "records": {"learners": []}}'.replace("URN", urn)
    status, body = upload(client, agent_a, text.encode(), fmt="json")
    assert status == 422, body
    assert [(e["ref"], e["field"]) for e in body["errors"]] == [("$.school", "urn")]
