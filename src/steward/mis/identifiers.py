"""The DfE's identifiers with a check character, in Python (generators, tests) and as PostgreSQL
expressions (the set-based checks at ingest), so both always compute the same thing.

A Unique Pupil Number (UPN) is 13 characters: a check letter, the LA code (3 digits), the
establishment number (4), the year of issue (2) and a serial (3 digits; a temporary UPN's last
character is a letter). The check letter is the DfE's modulus 23 check: characters 2 to 13 are
weighted 2 to 13, a digit counting its value and a letter its place in the check-letter alphabet
(A = 0 ... Z = 22, without I, O and S, which look like 1, 0 and 5); the sum's remainder modulo 23
is the place of the check letter in the same alphabet.
"""

from __future__ import annotations

import re

from psycopg import sql

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
UPN_PATTERN = f"^[{UPN_LETTERS}][0-9]{{11}}[0-9{UPN_LETTERS}]$"  # a permanent or temporary UPN
_UPN = re.compile(UPN_PATTERN)


def _upn_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else UPN_LETTERS.index(ch)


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it (LA code, establishment, year, serial)."""
    if len(body) != 12:
        raise ValueError(f"a UPN has 12 characters after its check letter, not {len(body)}")
    total = sum(weight * _upn_value(ch) for weight, ch in enumerate(body, start=2))
    return UPN_LETTERS[total % 23]


def make_upn(la_code: str, establishment: str, year: int, serial: int) -> str:
    """A permanent UPN issued by the school `la_code`/`establishment` in `year`."""
    body = f"{la_code}{establishment}{year % 100:02d}{serial:03d}"
    return upn_check_letter(body) + body


def is_valid_upn(upn: str) -> bool:
    return bool(_UPN.fullmatch(upn)) and upn[0] == upn_check_letter(upn[1:])


def upn_check_letter_sql(upn: sql.Composable) -> sql.Composable:
    """The check letter PostgreSQL computes for the text `upn` (meaningful when it matches
    `UPN_PATTERN`). Built only of functions that cannot raise, so it is safe in any evaluation order."""
    terms: list[sql.Composable] = [
        sql.SQL("{} * (ascii(substr({}, {}, 1)) - 48)").format(sql.Literal(position), upn, sql.Literal(position))
        for position in range(2, 13)
    ]
    last = sql.SQL("substr({}, 13, 1)").format(upn)
    terms.append(
        sql.SQL(
            "13 * CASE WHEN {last} BETWEEN '0' AND '9' THEN ascii({last}) - 48 ELSE strpos({letters}, {last}) - 1 END"
        ).format(last=last, letters=sql.Literal(UPN_LETTERS))
    )
    return sql.SQL("substr({}, mod({}, 23) + 1, 1)").format(sql.Literal(UPN_LETTERS), sql.SQL(" + ").join(terms))
