"""The mapped roster a recipient reads, kept between its requests while nothing it shows has changed.

A learning platform reads OneRoster a page at a time: `users?limit=100&offset=0`, then 100, then
200… Mapping every record (one HMAC per id, one dict per record) and sorting them for every page
would make reading n records cost n²/100; keeping the mapped, filtered and sorted list makes each
further page a slice. Whatever the list shows depends on, and nothing else, is in its key:
- the recipient, the base URL of the links and today (terms, year groups, current teachers);
- what the approved flows release at each school (a flow revoked, a field withdrawn: new key);
- the last value of the MIS change-version sequence, which every write of MIS data takes
  (batches, erasure and retention leave tombstones with a new version);
- the restrictions (Art. 18) at those schools: their count, highest and summed ids, so one lifted
  and another placed still changes the key.
So an erased or restricted person is gone from the next page read. Entries also expire after five
minutes, a recipient keeps one entry (the newest key replaces its older ones) and the process keeps
at most a few recipients, so personal data does not linger in memory.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from django.db import connection
from django.db.models import Count, Max, Sum

from steward.core import replicas
from steward.mis.base import CHANGE_VERSION_SEQUENCE
from steward.mis.models import ProcessingRestriction
from steward.rostering.selectors import Item, Roster, SchoolAccess

SECONDS = 300
RECIPIENTS = 8

_lock = threading.Lock()
_entries: OrderedDict[tuple[Hashable, ...], tuple[float, Roster]] = OrderedDict()


def roster_for(*, recipient_code: str, access: list[SchoolAccess], base_url: str, today: dt.date) -> Roster:
    """The recipient's roster, reused while its key holds; call inside `tenant_scope` of its schools."""
    key = (recipient_code, base_url, today, _access_key(access), _data_key([a.school.id for a in access]))
    # Read from a replica (the OneRoster reads), what the roster loads in this request (it loads
    # lazily, over several requests) must be as new as its key, read from the primary: if the
    # replica has not replayed that far, the rest of the request reads the primary.
    replicas.caught_up()
    now = time.monotonic()
    with _lock:
        found = _entries.get(key)
        if found is not None and now - found[0] < SECONDS:
            _entries.move_to_end(key)
            return found[1]
        for old in [k for k in _entries if k[0] == recipient_code or now - _entries[k][0] >= SECONDS]:
            del _entries[old]
        roster = Roster(recipient_code=recipient_code, access=access, base_url=base_url, today=today)
        _entries[key] = (now, roster)
        while len(_entries) > RECIPIENTS:
            _entries.popitem(last=False)
        return roster


def answer(roster: Roster, key: Hashable, select: Callable[[], list[Item]]) -> list[Item]:
    """`select()` (a filtered, sorted list), computed once per roster and key."""
    with roster.answers_lock:
        if key not in roster.answers:
            roster.answers[key] = select()
        return roster.answers[key]


def forget() -> None:
    """Drop every kept roster (tests that change MIS rows behind the sequence's back)."""
    with _lock:
        _entries.clear()


def _access_key(access: list[SchoolAccess]) -> tuple[Hashable, ...]:
    return tuple(
        (
            a.school.id,
            a.school.urn,
            a.school.name,
            tuple(sorted((t, tuple(sorted(r.fields))) for t, r in a.releases.items())),
        )
        for a in access
    )


def _data_key(school_ids: list[int]) -> tuple[Hashable, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value, is_called FROM {CHANGE_VERSION_SEQUENCE}")  # noqa: S608  # nosec B608 - a constant
        version = cursor.fetchone()
    restrictions = (
        ProcessingRestriction.objects.using("default")
        .filter(school_id__in=school_ids)
        .aggregate(n=Count("id"), top=Max("id"), total=Sum("id"))
    )
    return (tuple(version or ()), restrictions["n"], restrictions["top"], restrictions["total"])
