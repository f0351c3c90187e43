"""The attachment scanner as pure functions: sniffing by signature (and against the name), text out
of DOCX and XLSX through their XML, zip bombs refused before unpacking, and the three findings
(UPNs with a valid check letter only, dates next to a name or a birth label, email addresses),
stored as counts and masked examples, never the values."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from steward.mis.identifiers import make_upn
from steward.servicedesk import scanner

UPN = make_upn("881", "2001", 19, 123)  # a valid UPN of LA 881
WRONG_LETTER = ("B" if UPN[0] == "A" else "A") + UPN[1:]

CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(*paragraphs: str) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    document = f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    return zipped({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": document.encode()})


def xlsx(rows: list[list[str]]) -> bytes:
    """Strings as shared strings (as Excel writes them), so a row's cells are resolved through the table."""
    shared: list[str] = []
    xml_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for value in row:
            shared.append(value)
            cells.append(f'<c r="A{r}" t="s"><v>{len(shared) - 1}</v></c>')
        xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = f'<?xml version="1.0"?><worksheet xmlns="{S}"><sheetData>{"".join(xml_rows)}</sheetData></worksheet>'
    strings = "".join(f"<si><t>{s}</t></si>" for s in shared)
    sst = f'<?xml version="1.0"?><sst xmlns="{S}">{strings}</sst>'
    return zipped(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "xl/workbook.xml": f'<workbook xmlns="{S}"/>'.encode(),
            "xl/sharedStrings.xml": sst.encode(),
            "xl/worksheets/sheet1.xml": sheet.encode(),
        }
    )


def kinds(text: str) -> dict[str, int]:
    return scanner.scan_text(text).counts()


def test_a_upn_counts_only_with_its_valid_check_letter() -> None:
    assert kinds(f"The rejected row was {UPN}.") == {"upn": 1}
    assert kinds(f"The rejected row was {WRONG_LETTER}.") == {}
    assert kinds(f"lower case {UPN.lower()} too") == {"upn": 1}
    assert kinds(f"part of a longer code X{UPN}9") == {}


def test_a_date_is_a_date_of_birth_next_to_a_name_or_a_label_only() -> None:
    assert kinds("Jane Smith 12/03/2015 Year 4") == {"dob": 1}
    assert kinds("Smith, Jane (born 3 March 2015)") == {"dob": 1}
    assert kinds("DOB: 2015-03-12") == {"dob": 1}
    assert kinds("date of birth 12.03.15") == {"dob": 1}
    # A date with no name near it, a name far from it, a month name, or not a real date: nothing.
    assert kinds("The upload on 12/03/2025 failed at 02:00") == {}
    assert kinds("Jane Smith said that the nightly upload of the whole school failed again on 12/03/2025") == {}
    assert kinds("Monday 12 March 2025 the upload failed") == {}
    assert kinds("Jane Smith 31/02/2015") == {}


def test_emails_and_masked_examples_never_the_values() -> None:
    text = f"Contact jane.smith@parents.example or j2@school.invalid about {UPN}, Jane Smith DOB 12/03/2015"
    found = scanner.scan_text(text)
    assert found.counts() == {"email": 2, "upn": 1, "dob": 1}
    stored = json.dumps(found.as_json())
    for value in ("jane.smith@", UPN, "12/03/2015", "Jane", "Smith"):
        assert value not in stored
    assert found.as_json()["examples"]["email"] == ["j***@parents.example", "j***@school.invalid"]
    assert found.as_json()["examples"]["upn"] == [UPN[0] + "*" * 10 + UPN[-2:]]
    assert found.as_json()["examples"]["dob"] == ["**/**/2015"]
    assert scanner.describe(found.as_json()) == "1 pupil UPN, 1 date of birth and 2 email addresses"


def test_redaction_replaces_each_finding() -> None:
    text = f"upn,name,dob,email\n{UPN},Jane Smith,12/03/2015,jane@example.org\n"
    redacted = scanner.redact(text, scanner.scan_text(text))
    assert redacted == "upn,name,dob,email\n[redacted],Jane Smith,[redacted],[redacted]\n"
    assert scanner.scan_text(redacted).counts() == {}


def test_sniffing_goes_by_the_bytes_and_the_name_must_agree() -> None:
    assert scanner.sniff(b"%PDF-1.7\n...", "report.pdf") == scanner.PDF
    assert scanner.sniff(b"\x89PNG\r\n\x1a\n....", "screen.PNG") == scanner.PNG
    assert scanner.sniff(b"\xff\xd8\xff\xe0....", "photo.jpeg") == scanner.JPEG
    assert scanner.sniff(b"a,b\n1,2\n", "export.csv") == scanner.CSV
    assert scanner.sniff("caf\u00e9 log\n".encode(), "upload.log") == scanner.TEXT
    assert scanner.sniff(docx("hello"), "notes.docx") == scanner.DOCX
    assert scanner.sniff(xlsx([["a"]]), "book.xlsx") == scanner.XLSX
    with pytest.raises(scanner.Refused, match="is a PNG image but its name ends in .pdf"):
        scanner.sniff(b"\x89PNG\r\n\x1a\n....", "report.pdf")
    with pytest.raises(scanner.Refused, match="must be a PDF, PNG, JPEG"):
        scanner.sniff(b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe")
    with pytest.raises(scanner.Refused, match="must be a PDF"):
        scanner.sniff(b"MZ\x90\x00\x03\x00\x00\x00", "renamed.txt")  # binary with a text name
    with pytest.raises(scanner.Refused, match="must be a PDF"):
        scanner.sniff(zipped({"a.txt": b"x"}), "archive.docx")  # a zip that is not Office


def test_docx_and_xlsx_text_is_read_from_their_xml() -> None:
    word = docx("Pupil list", f"Jane Smith {UPN} born 12/03/2015", "office@school.example")
    assert scanner.scan_file(scanner.DOCX, word).counts() == {"upn": 1, "dob": 1, "email": 1}
    # A row's cells are near each other: the name in one cell, the date in the next.
    book = xlsx([["Name", "Date"], ["Jane Smith", "12/03/2015"], [UPN]])
    assert scanner.extract_text(scanner.XLSX, book).text == f"Name\tDate\nJane Smith\t12/03/2015\n{UPN}"
    assert scanner.scan_file(scanner.XLSX, book).counts() == {"dob": 1, "upn": 1}


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = zipped(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "word/document.xml": b"<w:document/>",
            "word/padding.bin": b"\0" * (scanner.MAX_UNZIPPED + 1),
        }
    )
    assert len(bomb) < 200_000  # tiny on the wire
    with pytest.raises(scanner.Refused, match="would unpack to more than 50 MB"):
        scanner.sniff(bomb, "minutes.docx")


def test_a_part_with_entities_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<w:document xmlns:w="' + W.encode() + b'"><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>'
    )
    word = zipped({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": laughs})
    with pytest.raises(scanner.Refused, match="a DTD or entities"):
        scanner.scan_file(scanner.DOCX, word)


def test_pdf_text_is_scanned_and_images_are_said_to_be_unscanned() -> None:
    from tests.servicedesk.pdfs import pdf_with_text

    found = scanner.scan_file(scanner.PDF, pdf_with_text(f"Pupil {UPN} contact jane@example.org"))
    assert found.scanned and found.counts() == {"upn": 1, "email": 1}
    image = scanner.scan_file(scanner.PNG, b"\x89PNG\r\n\x1a\n....")
    assert not image.scanned and "images are not scanned" in image.why_not
    broken = scanner.scan_file(scanner.PDF, b"%PDF-1.7\nnot really")
    assert not broken.scanned and "not scanned" in broken.why_not


def test_a_dump_of_pupils_is_counted_up_to_a_cap_and_said_to_be_at_least_that() -> None:
    row = f"{UPN},Jane Smith,12/03/2015,jane@example.org\n"
    found = scanner.scan_text(row * (scanner.MAX_PER_KIND + 10))
    assert found.capped and found.counts() == {"upn": 5000, "dob": 5000, "email": 5000}
    assert scanner.describe(found.as_json()) == (
        "at least 5,000 pupil UPNs, at least 5,000 dates of birth and at least 5,000 email addresses"
    )
    assert not scanner.scan_text(row * 10).capped
