"""The OneRoster 1.2 CSV binding: one school's roster, as one recipient may see it, as a zip of CSV files.

The records are the REST binding's (`selectors.Roster`), so the two bindings cannot drift: the
same per-recipient sourcedIds, the same fields released per flow, the same tombstones. What the
CSV binding changes is only the shape:
- a reference becomes a sourcedId column (`course` -> `courseSourcedId`, `terms` ->
  `termSourcedIds`, comma-separated), a list a comma-separated cell;
- a user's roles leave `users.csv` for `roles.csv` (one row per role; its sourcedId is the
  recipient's id of that user's role), and `users.csv` keeps `primaryOrgSourcedId`;
- `manifest.csv` says, for every file the 1.2 binding names, whether the zip holds it in
  full (`bulk`), as changes (`delta`) or not at all (`absent`).

Bulk: every active record, `status` and `dateLastModified` left empty as the binding asks of a
bulk file; a file the flow releases but that has no rows is sent with its header only (a bulk
file is the whole set, so an empty one says there are none). Delta: only records modified after
the given time, `tobedeleted` tombstones included, with `status` and `dateLastModified` filled; a
file with no changes is `absent` (not sent). A file the flow does not release is always absent
(`demographics.csv` needs a flow releasing a learner's date of birth or gender).

Every cell goes through `core.csvsafe` (rows are CRLF, RFC 4180): schools open these files in
spreadsheets to check them, and a name beginning with `=` must not run there. Nothing a sourcedId,
a date or an enumeration holds starts with a formula character, so machines read them unchanged.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from typing import IO, Any

from steward.core.csvsafe import csv_line
from steward.rostering.selectors import Item, Roster

SYSTEM_NAME = "Steward"
SYSTEM_CODE = "steward"

# The 1.2 CSV binding's column names, in its order, for the files Steward writes (written down from
# the specification's tables; `tests/rostering/schemas/oneroster_csv.json` holds them independently).
COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"),
    "academicSessions": (
        *("sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate"),
        *("parentSourcedId", "schoolYear"),
    ),
    "courses": (
        *("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades"),
        *("orgSourcedId", "subjects", "subjectCodes"),
    ),
    "classes": (
        *("sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode"),
        *("classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods"),
    ),
    "users": (
        *("sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName"),
        *("familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades"),
        *("password", "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName"),
        *("preferredFamilyName", "primaryOrgSourcedId", "pronouns"),
    ),
    "roles": (
        *("sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate"),
        *("endDate", "orgSourcedId", "userProfileSourcedId"),
    ),
    "enrollments": (
        *("sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId"),
        *("role", "primary", "beginDate", "endDate"),
    ),
    "demographics": (
        *("sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative"),
        *("asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white"),
        *("demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity", "countryOfBirthCode"),
        *("stateOfBirthAbbreviation", "cityOfBirth", "publicSchoolResidenceStatus"),
    ),
}
# Every data file the 1.2 manifest declares, in its order; the ones Steward never writes are absent.
MANIFEST_FILES = (
    *("academicSessions", "categories", "classes", "classResources", "courses", "courseResources"),
    *("demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales"),
    *("orgs", "resources", "resultLearningObjectiveIds", "results", "resultScoreScales", "roles"),
    *("scoreScales", "userProfiles", "userResources", "users"),
)
# The REST binding's names for the few CSV columns that are not the same word.
RENAMED = {"preferredGivenName": "preferredFirstName", "preferredFamilyName": "preferredLastName"}
# The CSV file each OneRoster collection of `Roster.kinds_released` becomes (users bring roles).
FILES_OF_KIND = {
    "orgs": ("orgs",),
    "academicSessions": ("academicSessions",),
    "courses": ("courses",),
    "classes": ("classes",),
    "users": ("users", "roles"),
    "enrollments": ("enrollments",),
    "demographics": ("demographics",),
}


@dataclass
class RosterCsv:
    """The files of one export: rows per file sent (in column order), the mode of every file, the
    records disclosed, and the newest modification of MIS data it covers (a delivery's next start)."""

    mode: str  # "bulk" or "delta"
    rows: dict[str, list[list[str]]] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    watermark: dt.datetime | None = None

    def manifest(self) -> list[tuple[str, str]]:
        files = [(f"file.{name}", self.mode if name in self.rows else "absent") for name in MANIFEST_FILES]
        return [
            ("manifest.version", "1.0"),
            ("oneroster.version", "1.2"),
            *files,
            ("source.systemName", SYSTEM_NAME),
            ("source.systemCode", SYSTEM_CODE),
        ]

    @property
    def record_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}


def modified(item_or_data: Item | dict[str, Any]) -> dt.datetime:
    data = item_or_data.data if isinstance(item_or_data, Item) else item_or_data
    return dt.datetime.fromisoformat(str(data["dateLastModified"]))


def build(roster: Roster, *, school_id: int, since: dt.datetime | None) -> RosterCsv:
    """The school's files: all active records (since None), or what changed after `since`."""
    export = RosterCsv(mode="bulk" if since is None else "delta")
    kinds = roster.kinds_released(school_id)
    seen: list[Item] = []
    for kind in FILES_OF_KIND:
        if kind not in kinds:
            continue
        items = [i for i in _items(roster, kind) if i.school_id in (None, school_id)]
        seen += items
        chosen = [i for i in items if _wanted(i.data, since)]
        export.items += chosen
        for name in FILES_OF_KIND[kind]:
            datas = _roles(roster, chosen) if name == "roles" else [i.data for i in chosen]
            if name == "demographics" and since is not None:
                datas += _deleted_demographics(roster, school_id, since)
            if datas or since is None:
                export.rows[name] = [_row(COLUMNS[name], d, bulk=since is None) for d in datas]
    # The next delta's start: MIS times only (all the database's clock), unless there are none.
    marks = [i for i in seen if i.record_type is not None] or seen
    export.watermark = max(modified(i) for i in marks) if marks else None
    return export


def _items(roster: Roster, kind: str) -> list[Item]:
    items: list[Item] = getattr(roster, kind if kind != "academicSessions" else "sessions")
    return items


def _wanted(data: dict[str, Any], since: dt.datetime | None) -> bool:
    if since is None:
        return bool(data["status"] == "active")
    return modified(data) > since


def _roles(roster: Roster, users: list[Item]) -> list[dict[str, Any]]:
    """A user's roles as roles.csv rows, each with the recipient's own id for that role."""
    rows = []
    for user in users:
        for role in user.data.get("roles", []):
            rows.append(
                {
                    "sourcedId": roster.sid(user.school_id, "role", f"{role['role']}:{user.source_id}"),
                    "status": user.data["status"],
                    "dateLastModified": user.data["dateLastModified"],
                    "user": {"sourcedId": user.data["sourcedId"]},
                    "roleType": role["roleType"],
                    "role": role["role"],
                    "org": role["org"],
                }
            )
    return rows


def _deleted_demographics(roster: Roster, school_id: int, since: dt.datetime) -> list[dict[str, Any]]:
    """A deleted pupil's demographics record goes with them: it has the pupil's sourcedId."""
    return [
        {k: s.data[k] for k in ("sourcedId", "status", "dateLastModified")}
        for s in roster.students
        if s.school_id == school_id and s.data["status"] == "tobedeleted" and modified(s) > since
    ]


def _row(columns: tuple[str, ...], data: dict[str, Any], *, bulk: bool) -> list[str]:
    return ["" if bulk and c in ("status", "dateLastModified") else _cell(data, c) for c in columns]


def _cell(data: dict[str, Any], column: str) -> str:
    """A column's text from the REST record: `xSourcedId` is the sourcedId of reference `x`,
    `xSourcedIds` those of the list `xs`; lists are comma-separated, booleans `true`/`false`."""
    if column.endswith("SourcedIds"):
        refs = data.get(column.removesuffix("SourcedIds") + "s") or []
        return ",".join(r["sourcedId"] for r in refs)
    if column.endswith("SourcedId"):
        ref = data.get(column.removesuffix("SourcedId"))
        return str(ref["sourcedId"]) if isinstance(ref, dict) else ""
    value = data.get(RENAMED.get(column, column))
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def write_zip(export: RosterCsv, handle: IO[bytes]) -> None:
    """The zip the binding asks for: the files at its root, `manifest.csv` first."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("manifest.csv", "w") as out:
            out.write(csv_line(["propertyName", "value"]).encode())
            for name, value in export.manifest():
                out.write(csv_line([name, value]).encode())
        for name in COLUMNS:
            if name not in export.rows:
                continue
            with archive.open(f"{name}.csv", "w") as out:
                out.write(csv_line(COLUMNS[name]).encode())
                for row in export.rows[name]:
                    out.write(csv_line(row).encode())
