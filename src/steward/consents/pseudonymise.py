"""A pseudonymised copy of one school's MIS data, for development and test, under a data use agreement.

What happens to each column is decided from the field classification, never from a list of
column names, so a field added to the MIS model tomorrow is handled the day it is classified:

- special categories (the register flags them) are dropped unless the agreement names them;
  photos (and any binary column) are dropped;
- free text (a TextField, a comment / description / notes field, or a field the model declares
  `free_text`, such as a homework title that may name a pupil) is emptied;
- subjects under an Art. 18 restriction (`ProcessingRestriction`) are left out, with every row
  that refers to them (through the model's `references`);
- identity and contact-detail columns are replaced: names by names from a fixed list, emails by
  `<token>@example.invalid`, anything else (UPN, NI number, phone, address) by a token; the MIS's
  own ids and the references between records become tokens too, so the copy still joins up;
- personal dates move by a number of days fixed per learner (or per staff member, or per record),
  so intervals within one person's history survive;
- code-set values and everything not personal are copied as they are.

Every pseudonym is HMAC-SHA256 of the value with the agreement's secret key, so the same value
maps to the same pseudonym everywhere in a copy. The embedded PostgreSQL has no pgcrypto, so
HMAC is written out from its definition (RFC 2104) with the built-in `sha256`: one INSERT ..
SELECT per record type, set-based, and the key goes in as a bound parameter, never into the copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, transaction
from django.utils import timezone
from psycopg import sql

from steward.audit.services import audit_record
from steward.consents.models import DataUseAgreement, PseudonymisedCopy
from steward.consents.services import SPECIAL_CATEGORIES, agreement_in_force
from steward.mis.base import MisRecord
from steward.mis.models import RECORD_MODELS, ProcessingRestriction
from steward.register.classification import PersonalData, classification_of
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope

SHIFT_DAYS = 180  # dates move by 1 to 180 days, earlier or later
FREE_TEXT_NAMES = frozenset({"comment", "comments", "description", "notes"})
PSEUDONYMISED_CATEGORY_SUFFIXES = (".identity", ".contact_details", ".work_contact")
IDENTIFIER_SUFFIXES = ("_number", "upn")  # national ids (UPN, NI and teacher numbers), whatever their category
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESTRICTABLE = frozenset({"learners", "contacts", "staff"})  # the record types a restriction names
_BLOCK = 64  # SHA-256 block size in bytes

FORENAMES = (
    "Ada", "Ben", "Cleo", "Dev", "Ella", "Finn", "Gia", "Hugo", "Isla", "Jude", "Kai", "Lena", "Milo", "Nia",
    "Omar", "Pia", "Quinn", "Rosa", "Seth", "Tara", "Uma", "Vic", "Wren", "Xavi", "Yara", "Zac", "Amir", "Bea",
    "Cal", "Dora", "Eli", "Faye",
)  # fmt: skip
SURNAMES = (
    "Ashdown", "Birchall", "Cobham", "Dunmore", "Elmswell", "Fernley", "Glenfield", "Hartwell", "Ivybridge",
    "Kestrel", "Larkhill", "Marlow", "Northcote", "Oakridge", "Pembury", "Redbourn", "Saltash", "Thornbury",
    "Upwood", "Valley", "Westbury", "Yardley", "Ambrose", "Brackley", "Caddington", "Daventry", "Evesham",
    "Fairford", "Grantham", "Hollins", "Ilsley", "Jevington",
)  # fmt: skip


class NoAgreementInForce(Exception):
    """A pseudonymised copy was asked for with no data use agreement in force for the school."""


@dataclass(frozen=True)
class Column:
    name: str
    expression: str  # SQL over the source row `s`, with named parameters


def hmac_keys(secret_key: str) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC-SHA256 (RFC 2104), for the SQL expression."""
    key = bytes.fromhex(secret_key)
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_hex(secret_key: str, value: str) -> str:
    """The same HMAC in Python: what the tests and anyone holding the agreement's key can check."""
    return hmac.new(bytes.fromhex(secret_key), value.encode(), hashlib.sha256).hexdigest()


def _hmac(value_sql: str) -> str:
    return f"sha256(%(okey)s::bytea || sha256(%(ikey)s::bytea || convert_to({value_sql}, 'UTF8')))"


def _name_from(value_sql: str, names: str) -> str:
    h = _hmac(value_sql)
    index = f"1 + mod(get_byte({h}, 0) * 256 + get_byte({h}, 1), cardinality(%({names})s::text[]))"
    return f"(%({names})s::text[])[{index}]"


def _shift_days(key_sql: str) -> str:
    h = _hmac(f"'shift:' || {key_sql}")
    days = f"(1 + mod(get_byte({h}, 0) * 256 + get_byte({h}, 1), {SHIFT_DAYS}))"
    return f"(CASE WHEN get_byte({h}, 2) & 1 = 0 THEN {days} ELSE -{days} END)"


def _not_blank(column: str, expression: str) -> str:
    return f"CASE WHEN {column} IS NULL OR {column} = '' THEN {column} ELSE {expression} END"


def shift_key(model: type[MisRecord]) -> str:
    """SQL for whose dates a row holds: its learner, else its staff member or contact, else itself."""
    for target in ("learners", "staff", "contacts"):
        if model.record_type == target:
            return f"'{target}:' || s.source_id"
        for column, referred in model.references.items():
            if referred == target:
                return f"'{target}:' || s.{column}"
    return f"'{model.record_type}:' || s.source_id"


def column_plan(model: type[MisRecord], *, special_allowed: frozenset[str]) -> list[Column]:
    """What the copy holds for each column of the model (a column left out is dropped)."""
    classification = classification_of(model)
    categories = classification.fields if isinstance(classification, PersonalData) else {}
    plan = []
    for field in model._meta.concrete_fields:
        name = str(field.column)
        column = f's."{name}"'
        category = categories.get(field.name)
        token = f"upper(substr(encode({_hmac(column)}, 'hex'), 1, {min(field.max_length or 32, 32)}))"
        if isinstance(field, models.BinaryField) or (category or "").endswith(".photo"):
            continue
        if category in SPECIAL_CATEGORIES and category not in special_allowed:
            continue
        if field.name == "content_hash":
            plan.append(Column(name, "''"))  # a hash of the original values could confirm guesses
        elif field.name == "source_id" or field.name in model.references or field.name.endswith(IDENTIFIER_SUFFIXES):
            plan.append(Column(name, _not_blank(column, token)))
        elif category is None:
            plan.append(Column(name, column))
        elif isinstance(field, models.TextField) or field.name in FREE_TEXT_NAMES or field.name in model.free_text:
            plan.append(Column(name, "''"))
        elif isinstance(field, models.DateTimeField):
            plan.append(Column(name, f"{column} + make_interval(days => {_shift_days(shift_key(model))})"))
        elif isinstance(field, models.DateField):
            plan.append(Column(name, f"{column} + {_shift_days(shift_key(model))}"))
        elif not category.endswith(PSEUDONYMISED_CATEGORY_SUFFIXES) or field.name in model.code_sets:
            plan.append(Column(name, column))
        elif isinstance(field, models.EmailField):
            email = f"lower(substr(encode({_hmac(column)}, 'hex'), 1, 16)) || '@example.invalid'"
            plan.append(Column(name, _not_blank(column, email)))
        elif "surname" in field.name:
            plan.append(Column(name, _not_blank(column, _name_from(column, "surnames"))))
        elif "name" in field.name:
            plan.append(Column(name, _not_blank(column, _name_from(column, "forenames"))))
        elif field.name == "head_teacher":
            full = f"{_name_from(column, 'forenames')} || ' ' || {_name_from(column, 'surnames')}"
            plan.append(Column(name, _not_blank(column, full)))
        elif isinstance(field, models.CharField):
            plan.append(Column(name, _not_blank(column, token)))
        # Any other identity or contact column (none today) is dropped rather than copied.
    return plan


def wholly_special(model: type[MisRecord], *, special_allowed: frozenset[str]) -> bool:
    """A record type whose every personal field is a special category the agreement leaves out:
    even its rows' existence would say something special (that a learner has SEN), so no table."""
    classification = classification_of(model)
    if not isinstance(classification, PersonalData) or not classification.fields:
        return False
    return all(c in SPECIAL_CATEGORIES - special_allowed for c in classification.fields.values())


def check_schema_name(name: str) -> None:
    if not _SCHEMA_NAME.match(name) or name == "public" or name.startswith("pg_"):
        raise ValueError(f"{name!r} is not a usable schema name (lower-case letters, digits, underscores)")


def _copy(*, school: Organisation, agreement: DataUseAgreement, schema: str) -> dict[str, int]:
    return copy_into_schema(
        school_id=school.id,
        schema=schema,
        record_types=agreement.record_types,
        secret_key=agreement.secret_key,
        special_allowed=frozenset(agreement.special_categories),
    )


def real_plan(model: type[MisRecord], *, special_allowed: frozenset[str]) -> list[Column]:
    """Every column as it is, for a copy the school allowed to keep real identities; special
    categories the school did not name and photos still stay out."""
    pseudonymised = {c.name for c in column_plan(model, special_allowed=special_allowed)}
    return [Column(str(f.column), f's."{f.column}"') for f in model._meta.concrete_fields if f.column in pseudonymised]


def copy_into_schema(
    *,
    school_id: int,
    schema: str,
    record_types: list[str],
    secret_key: str,
    special_allowed: frozenset[str] = frozenset(),
    real_identities: bool = False,
) -> dict[str, int]:
    """Create the schema and fill it with the school's rows of `record_types`, as the owner, in one
    transaction: all of it or none. Pseudonymised with `secret_key` unless `real_identities`; the
    development copies here and the service desk's investigation copies share this one copier."""
    check_schema_name(schema)
    inner, outer = hmac_keys(secret_key)
    params: dict[str, Any] = {
        "ikey": inner,
        "okey": outer,
        "forenames": list(FORENAMES),
        "surnames": list(SURNAMES),
        "school": school_id,
    }
    special = special_allowed
    counts: dict[str, int] = {}
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        if cursor.fetchone():
            raise ValueError(f"schema {schema!r} already exists: choose a new name or drop it first")
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for model in RECORD_MODELS:
            if model.record_type not in record_types or wholly_special(model, special_allowed=special):
                continue
            plan = (real_plan if real_identities else column_plan)(model, special_allowed=special)
            table = sql.Identifier(schema, model._meta.db_table)
            source = sql.Identifier("public", model._meta.db_table)
            names = sql.SQL(", ").join(sql.Identifier(c.name) for c in plan)
            statement = sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} WHERE false").format(table, names, source)
            cursor.execute(statement)
            insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} AS s WHERE s.school_id = %(school)s{}").format(
                table, names, sql.SQL(", ").join(sql.SQL(c.expression) for c in plan), source, _unrestricted(model)
            )
            cursor.execute(insert, params)
            counts[model.record_type] = cursor.rowcount
    return counts


def pseudonym(secret_key: str, model: type[MisRecord], field_name: str, value: str) -> str:
    """The token a copy holds for an id column's `value` (as `column_plan` writes it): how erasure
    finds a person's rows in a pseudonymised copy without the copy holding the key."""
    field = model._meta.get_field(field_name)
    length = min(getattr(field, "max_length", None) or 32, 32)
    return hmac_hex(secret_key, value)[:length].upper()


def _unrestricted(model: type[MisRecord]) -> sql.Composable:
    """Conditions that leave out restricted subjects' rows and every row referring to one (Art. 18)."""
    columns = {"source_id": model.record_type} if model.record_type in RESTRICTABLE else {}
    columns |= {c: t for c, t in model.references.items() if t in RESTRICTABLE}
    restriction = sql.Identifier("public", ProcessingRestriction._meta.db_table)
    return sql.SQL("").join(
        sql.SQL(
            " AND NOT EXISTS (SELECT 1 FROM {} AS r WHERE r.school_id = s.school_id"
            " AND r.record_type = {} AND r.source_id = s.{})"
        ).format(restriction, sql.Literal(record_type), sql.Identifier(column))
        for column, record_type in columns.items()
    )


def pseudonymise_school(
    *, school: Organisation, target_schema: str, made_by: str, today: dt.date | None = None
) -> PseudonymisedCopy:
    """Make the copy, only under a data use agreement in force today; record and audit it.

    A refusal is audited too: asking for a copy without an agreement is worth knowing about.
    """
    check_schema_name(target_schema)
    today = today or timezone.localdate()
    with tenant_scope([school.id]):
        agreement = agreement_in_force(school=school, today=today)
        if agreement is None:
            audit_record(
                action="pseudonymised_copy_refused",
                actor_label=made_by,
                organisation_id=school.id,
                school_id=school.id,
                purpose="development and test",
                detail={"schema": target_schema, "reason": "no data use agreement in force"},
            )
    if agreement is None:
        raise NoAgreementInForce(
            f"refused: no data use agreement is in force for school {school.urn} on {today:%d %B %Y}; "
            "a pseudonymised copy is only made under one"
        )
    counts = _copy(school=school, agreement=agreement, schema=target_schema)
    try:
        with tenant_scope([school.id]):
            copy: PseudonymisedCopy = PseudonymisedCopy.objects.create(
                school=school, agreement=agreement, schema_name=target_schema, made_by=made_by, row_counts=counts
            )
            audit_record(
                action="pseudonymised_copy_made",
                actor_label=made_by,
                organisation_id=school.id,
                school_id=school.id,
                object_type="consents.PseudonymisedCopy",
                object_ids=[copy.id],
                purpose="development and test",
                detail={"schema": target_schema, "agreement": agreement.id, "rows": counts},
            )
    except BaseException:
        drop_copy(target_schema)  # a copy nobody recorded must not exist
        raise
    return copy


def drop_copy(schema: str) -> None:
    check_schema_name(schema)
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
