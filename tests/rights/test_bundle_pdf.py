"""The bundle's PDF prints every value, even one far wider than its column."""

from __future__ import annotations

import datetime as dt
import io

from pypdf import PdfReader

from steward.rights.bundle_pdf import COLUMN_CHARS, bundle_pdf


def test_every_value_is_printed_in_full() -> None:
    long_comment = "Spoke to mum about reading at home; agreed a plan with the class teacher " * 3
    document = {
        "school": "Alder Primary",
        "subject": {"kind": "Learner", "as_named": "Sam Jones"},
        "request": {"id": 1, "kind": "Access (Art. 15)", "received_on": dt.date(2026, 11, 2)},
        "generated_at": dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC),
        "held": {
            "mis": {
                "mis.Behaviour": [
                    {"source_id": f"B{i}", "category": f"Category {i}", "comments": long_comment} for i in range(3)
                ]
            }
        },
        "audit_events": [],
        "disclosures": [],
    }
    assert len(long_comment) > COLUMN_CHARS
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(bundle_pdf(document))).pages)
    flat = " ".join(text.split())
    assert "Sam Jones" in flat and "Alder Primary" in flat
    assert flat.count("Comments (in full):") == 3  # the field's label, not its column name
    assert " ".join(long_comment.split()) in flat
    for i in range(3):
        assert f"Category {i}" in flat
    assert "B0" not in flat and "source_id" not in flat  # internal ids are not printed
