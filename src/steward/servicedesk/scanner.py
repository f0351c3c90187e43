"""What an attachment is, and what personal data it seems to hold: pure functions, no Django.

A school's request for assistance should not carry pupils' details, but screenshots of a rejected
upload and exported spreadsheets often do. So every file is *sniffed* (its type is what its bytes
say, not what its name says), refused when it is not one of the few kinds the desk needs, and its
text is *scanned* for three things that should not be there: UPNs with a valid DfE check letter
(`mis.identifiers`, the same check ingest applies), dates next to a name or a "date of birth"
label, and email addresses. The findings are counts and a few masked examples, never the values
found, so the record of a finding is not itself a copy of the data.

DOCX and XLSX are zip files: their declared uncompressed size is checked before any part is read
(a zip bomb is refused, not unpacked), and their XML is parsed with defusedxml (no entities, no
DTD). PDF text comes from pypdf, over the first pages only; a PDF whose text cannot be read is
reported as not scanned rather than as clean. Images are not scanned (no OCR): the warning says so.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException, ElementTree

from steward.mis.identifiers import is_valid_upn

MAX_UNZIPPED = 50 * 1024 * 1024  # a DOCX or XLSX unpacking to more than this is refused
MAX_ZIP_ENTRIES = 2_000
MAX_PDF_PAGES = 50
EXAMPLES = 3  # masked examples kept per kind
MAX_PER_KIND = 5_000  # findings counted per kind before the scan of that kind stops

PDF, PNG, JPEG, TEXT, CSV, DOCX, XLSX = "pdf", "png", "jpeg", "text", "csv", "docx", "xlsx"
# The extensions each kind may carry, and the content type the file is served with.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg"),
    TEXT: (".txt", ".log"),
    CSV: (".csv",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
}
CONTENT_TYPES = {
    PDF: "application/pdf",
    PNG: "image/png",
    JPEG: "image/jpeg",
    TEXT: "text/plain; charset=utf-8",
    CSV: "text/csv; charset=utf-8",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
KIND_WORDS = {
    PDF: "a PDF",
    PNG: "a PNG image",
    JPEG: "a JPEG image",
    TEXT: "a text file",
    CSV: "a CSV file",
    DOCX: "a Word document (.docx)",
    XLSX: "an Excel workbook (.xlsx)",
}
REDACTABLE = (TEXT, CSV)
ALLOWED_WORDS = "PDF, PNG, JPEG, text (.txt, .log), CSV, Word (.docx) or Excel (.xlsx)"


class Refused(ValueError):
    """The file is not one the desk takes; the message says why, in words for the uploader."""


# --- Sniffing -------------------------------------------------------------------------------------


def sniff(data: bytes, name: str) -> str:
    """The kind of file the bytes say this is, checked against its name's extension.

    Raises `Refused` for an unknown signature, a name whose extension says another kind, or a
    DOCX/XLSX that would unpack to too much."""
    ext = _extension(name)
    kind = _signature(data, ext)
    if kind is None:
        raise Refused(f"must be a {ALLOWED_WORDS} file")
    if ext not in EXTENSIONS[kind]:
        raise Refused(f"is {KIND_WORDS[kind]} but its name ends in {ext or 'nothing'}: rename it or choose another")
    return kind


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _signature(data: bytes, ext: str) -> str | None:
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _office_kind(data)
    if _is_text(data):
        return CSV if ext == ".csv" else TEXT
    return None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _is_text(data: bytes) -> bool:
    """UTF-8 (a BOM allowed) with no NUL and no control characters but tab, line ends and form feed
    (one regular expression over the text: a 10 MB log is checked in milliseconds)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(text) is None


def _office_kind(data: bytes) -> str | None:
    """DOCX or XLSX: a zip with [Content_Types].xml and the main part of one of them."""
    with _open_zip(data) as archive:
        names = set(archive.namelist())
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _open_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, after its declared sizes say it is not a bomb (before anything is unpacked).
    Reading a part later stops at its declared size too (`_read_part`), so a lying header gains nothing."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as broken:
        raise Refused("is a damaged zip file (a Word or Excel file that cannot be opened)") from broken
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > MAX_UNZIPPED:
        archive.close()
        raise Refused(
            f"would unpack to more than {MAX_UNZIPPED // (1024 * 1024)} MB or {MAX_ZIP_ENTRIES} parts "
            "(a zip bomb, or far larger than a document the desk needs)"
        )
    return archive


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as part:
        data = part.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise Refused("has a part larger than its zip header says (a zip bomb)")
    return data


# --- Text -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extracted:
    text: str
    scanned: bool = True  # False: the text could not be read (an image, an unreadable PDF)
    why_not: str = ""


def extract_text(kind: str, data: bytes) -> Extracted:
    """The text the scanner reads: the file itself for text and CSV, the XML parts' text for DOCX
    and XLSX (row by row, cells separated by tabs, so a name and a date in one row are near), the
    first pages of a PDF; nothing for images."""
    if kind in (TEXT, CSV):
        return Extracted(data.decode("utf-8-sig"))
    if kind == DOCX:
        return Extracted(_docx_text(data))
    if kind == XLSX:
        return Extracted(_xlsx_text(data))
    if kind == PDF:
        return _pdf_text(data)
    return Extracted("", scanned=False, why_not="images are not scanned: look at it yourself before you send it")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(archive: zipfile.ZipFile, name: str) -> Any:
    try:
        return ElementTree.fromstring(_read_part(archive, archive.getinfo(name)))
    except ElementTree.ParseError as broken:
        raise Refused(f"has a damaged part ({name})") from broken
    except DefusedXmlException as forbidden:
        raise Refused(f"has a part with a DTD or entities, which Office never writes ({name})") from forbidden


def _docx_text(data: bytes) -> str:
    paragraphs: list[str] = []
    with _open_zip(data) as archive:
        parts = [
            n
            for n in archive.namelist()
            if n == "word/document.xml" or re.fullmatch(r"word/(header|footer|footnotes|endnotes|comments)\d*\.xml", n)
        ]
        for name in parts:
            for element in _parse(archive, name).iter():
                if _local(element.tag) == "p":
                    paragraphs.append("".join(t.text or "" for t in element.iter() if _local(t.tag) == "t"))
    return "\n".join(paragraphs)


def _xlsx_text(data: bytes) -> str:
    rows: list[str] = []
    with _open_zip(data) as archive:
        names = archive.namelist()
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            for item in _parse(archive, "xl/sharedStrings.xml"):
                if _local(item.tag) == "si":
                    shared.append("".join(t.text or "" for t in item.iter() if _local(t.tag) == "t"))
        for name in sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)):
            for row in _parse(archive, name).iter():
                if _local(row.tag) == "row":
                    rows.append("\t".join(_cell(c, shared) for c in row if _local(c.tag) == "c"))
    return "\n".join(rows)


def _cell(cell: Any, shared: list[str]) -> str:
    if cell.get("t") == "inlineStr":
        return "".join(t.text or "" for t in cell.iter() if _local(t.tag) == "t")
    value = next((v.text or "" for v in cell if _local(v.tag) == "v"), "")
    if cell.get("t") == "s" and value.isdigit() and int(value) < len(shared):
        return shared[int(value)]
    return value


def _pdf_text(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            return Extracted("", scanned=False, why_not="the PDF is encrypted, so its text was not scanned")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError):
        return Extracted("", scanned=False, why_not="the PDF's text could not be read, so it was not scanned")
    text = "\n".join(pages)
    if not text.strip():
        return Extracted("", scanned=False, why_not="the PDF has no text to scan (a scan or an image)")
    return Extracted(text)


# --- Findings -------------------------------------------------------------------------------------

UPN, DOB, EMAIL = "upn", "dob", "email"
FINDING_WORDS = {
    UPN: ("pupil UPN", "pupil UPNs"),
    DOB: ("date of birth", "dates of birth"),
    EMAIL: ("email address", "email addresses"),
}

_UPN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][0-9]{11}[0-9A-Za-z](?![A-Za-z0-9])")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_MONTH_NAMES = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
_DATE = re.compile(
    r"(?=\d)(?<![\d/.-])(?:"
    r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4}|\d{2})"
    r"|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
    rf"|(?P<td>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<tm>(?:{_MONTHS})[a-z]*)\.?\s+(?P<ty>\d{{4}})"
    r")(?![\d/.-])",
    re.IGNORECASE,
)
_DOB_LABEL = re.compile(r"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|born|birth\s*date)\b", re.IGNORECASE)
_NAME_PAIR = re.compile(r"\b[A-Z][a-z'’-]+,?\s+[A-Z][a-z'’-]+\b")
_ANCHOR = re.compile(rf"{_NAME_PAIR.pattern}|(?i:{_DOB_LABEL.pattern})")
NEAR_WORDS = 5  # a date this many words or fewer from a name counts as a date of birth
_LABEL_REACH = 40  # characters before a date in which a "DOB" label counts
_REACH = 160  # characters either side of a date looked at for a name
_LOCAL_PART = re.compile(r"(?<![\w.+-])[\w.+-]+$")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    masked: str


@dataclass
class Findings:
    """What one text or file seems to hold: counts per kind and a few masked examples."""

    items: list[Finding] = field(default_factory=list)
    scanned: bool = True
    why_not: str = ""
    capped: bool = False  # a kind reached `MAX_PER_KIND`: the counts are "at least"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.items:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def as_json(self) -> dict[str, Any]:
        """What is stored on the attachment: never the values found."""
        examples: dict[str, list[str]] = {}
        for f in self.items:
            kept = examples.setdefault(f.kind, [])
            if len(kept) < EXAMPLES and f.masked not in kept:
                kept.append(f.masked)
        return {
            "counts": self.counts(),
            "examples": examples,
            "scanned": self.scanned,
            "why_not": self.why_not,
            "capped": self.capped,
        }


def scan_text(text: str) -> Findings:
    """UPNs with a valid check letter, dates of birth (a date next to a name or a birth label), and
    email addresses, in the order they appear. Each kind stops at `MAX_PER_KIND` (the counts are then
    "at least"), so a 10 MB dump of pupils is judged in about a second, not in twenty."""
    items: list[Finding] = []
    capped = False
    for found in (_upns(text), _emails(text), _dobs(text)):
        for n, finding in enumerate(found, start=1):
            items.append(finding)
            if n >= MAX_PER_KIND:
                capped = True
                break
    return Findings(sorted(items, key=lambda f: f.start), capped=capped)


def _upns(text: str) -> Iterator[Finding]:
    for m in _UPN_CANDIDATE.finditer(text):
        if is_valid_upn(m.group().upper()):
            yield Finding(UPN, m.start(), m.end(), mask_upn(m.group().upper()))


def _emails(text: str) -> Iterator[Finding]:
    """From each "@" outwards (a pattern starting with the local part would try every word of the text)."""
    at = text.find("@")
    while at >= 0:
        local = _LOCAL_PART.search(text, max(0, at - 64), at)
        domain = _DOMAIN.match(text, at + 1)
        if local and domain:
            yield Finding(EMAIL, local.start(), domain.end(), mask_email(text[local.start() : domain.end()]))
        at = text.find("@", at + 1)


def _dobs(text: str) -> Iterator[Finding]:
    """Dates near a name or a birth label: found from the names and labels outwards, since a log has
    thousands of dates and few names."""
    done = 0  # the text before this has been looked at for dates: overlapping windows are read once
    for anchor in _ANCHOR.finditer(text):
        low, high = max(done, anchor.start() - _REACH), min(len(text), anchor.end() + _REACH)
        if low >= high:
            continue
        for m in _DATE.finditer(text, low, min(len(text), high + 20)):  # a date starting inside, read whole
            if m.start() >= high:
                break
            done = max(done, m.end())
            before, after = _window(text, m.start(), m.end())
            when = _as_date(m)
            if when is not None and (_labelled(before) or _near_name(before, after)):
                yield Finding(DOB, m.start(), m.end(), f"**/**/{when.year}")
        done = max(done, high)


def scan_file(kind: str, data: bytes) -> Findings:
    extracted = extract_text(kind, data)
    if not extracted.scanned:
        return Findings(scanned=False, why_not=extracted.why_not)
    return scan_text(extracted.text)


def redact(text: str, findings: Findings) -> str:
    """The text with every finding replaced by "[redacted]" (text and CSV files only)."""
    out: list[str] = []
    at = 0
    for f in findings.items:
        if f.start < at:  # overlapping findings (an email holding a date): the first one covers it
            continue
        out.append(text[at : f.start])
        out.append("[redacted]")
        at = f.end
    out.append(text[at:])
    return "".join(out)


def mask_upn(upn: str) -> str:
    return f"{upn[0]}{'*' * 10}{upn[-2:]}"


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _as_date(m: re.Match[str]) -> dt.date | None:
    try:
        if m.group("d"):
            year = int(m.group("y"))
            year = year + 2000 if year < 100 else year
            return dt.date(year, int(m.group("m")), int(m.group("d")))
        if m.group("iy"):
            return dt.date(int(m.group("iy")), int(m.group("im")), int(m.group("id")))
        month = [n[:3] for n in _MONTH_NAMES.split("|")[:12]].index(m.group("tm")[:3].lower()) + 1
        return dt.date(int(m.group("ty")), month, int(m.group("td")))
    except ValueError:
        return None


def _window(text: str, start: int, end: int) -> tuple[str, str]:
    """The same line's text before and after the date, at most `_REACH` characters each way (bounded,
    so a file with no line breaks costs the same per date as one with many)."""
    line_start = text.rfind("\n", max(0, start - _REACH), start) + 1
    line_start = max(line_start, start - _REACH)
    line_end = text.find("\n", end, end + _REACH)
    line_end = min(end + _REACH, len(text)) if line_end < 0 else line_end
    return text[line_start:start], text[end:line_end]


def _labelled(before: str) -> bool:
    return bool(_DOB_LABEL.search(before[-_LABEL_REACH:]))


def _near_name(before: str, after: str) -> bool:
    """A capitalised word pair (not a month or a weekday) within `NEAR_WORDS` words of the date, on the same line."""
    for words in (" ".join(before.split()[-(NEAR_WORDS + 2) :]), " ".join(after.split()[: NEAR_WORDS + 2])):
        for pair in _NAME_PAIR.finditer(words):
            parts = re.split(r",?\s+", pair.group())
            if not any(re.fullmatch(_MONTH_NAMES, p, re.IGNORECASE) for p in parts):
                return True
    return False


def describe(findings: dict[str, Any]) -> str:
    """ "3 pupil UPNs and 2 email addresses" from a stored findings record ("" when none)."""
    counts = findings.get("counts", {})
    at_least = "at least " if findings.get("capped") else ""
    parts = [
        f"{at_least if n >= MAX_PER_KIND else ''}{n:,} {FINDING_WORDS[kind][0 if n == 1 else 1]}"
        for kind in (UPN, DOB, EMAIL)
        if (n := counts.get(kind, 0))
    ]
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
