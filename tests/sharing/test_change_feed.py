"""The change feed never skips a committed change, whichever writers run at once.

A recipient reads each record type and the deletes `?since=` its last version and keeps, per
record, the newest version it saw. Versions are taken when a row is written, not when its
transaction commits, so if one writer of a school could commit higher versions while another
writer of the same school still held lower ones open, a read in between would move `since` past
the lower ones for good. These tests make exactly that interleaving happen, with real
transactions on separate connections, for every kind of writer: ingest (full and delta),
erasure and the retention sweep.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.models import Model

from steward.audit.actor import Actor
from steward.ingest.models import IngestBatch
from steward.ingest.schema import record_types, spec_for
from steward.ingest.services import batch_ingest
from steward.mis.models import MODEL_BY_TYPE, Learner, Tombstone
from steward.mis.privacy import MisPrivacyProvider
from steward.register.providers import Subject
from steward.retention.models import RestoreReplay
from steward.retention.services import retention_sweep
from steward.rights import services as rights
from steward.rights.models import ProofOfDeletion, RightsRequest
from steward.sharing import selectors
from steward.sharing.selectors import Release
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

SWEEP_DAY = dt.date(2026, 11, 25)  # L5 left in July 2020: past the register's 365 days
WAIT_SECONDS = 10.0


def _enrolment(learner_id: str, leaving: str = "") -> dict[str, str]:
    return {
        "source_id": f"E-{learner_id}",
        "learner_source_id": learner_id,
        "entry_date": "2019-09-01",
        "leaving_date": leaving,
        "enrolment_status": "C",
    }


def _records(*, omit: str = "", renamed: str = "") -> dict[str, list[dict[str, Any]]]:
    """Six learners with an enrolment and a contact link each; L5 is a long-gone leaver."""
    ids = [f"L{n}" for n in range(1, 7) if f"L{n}" != omit]
    return {
        "learners": [b.learner(i, legal_forename="Renamed" if i == renamed else "Sam") for i in ids],
        "contacts": [b.contact("C1")],
        "learner-contacts": [b.link(f"LC-{i}", i, "C1") for i in ids],
        "school-enrolments": [_enrolment(i, "2020-07-20" if i == "L5" else "") for i in ids],
    }


def _full_batch(school: Organisation) -> None:
    """Renames L1 and omits L6: an update, and tombstones for L6 and what refers to it."""
    data = b.csv_zip(_records(omit="L6", renamed="L1"))
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="full", sent_by="test")


def _delta_batch(school: Organisation) -> None:
    """Renames L3 and deletes L4 (its enrolment and link go with it)."""
    data = b.csv_zip({"learners": [b.learner("L3", legal_forename="Renamed")]}, deletes=[("learners", "L4")])
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="delta", sent_by="test")


def _erasure(school: Organisation) -> None:
    """Erases L2 (a logged, identity-checked request) with everything that refers to it."""
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get(subject_label="L2")
        rights.erasure_execute(request=request, actor=Actor.system("DPO"))


def _sweep(school: Organisation) -> None:
    """Deletes the leaver L5 and everything that refers to them."""
    retention_sweep(today=SWEEP_DAY, schools=[school], processor_wide=False)


@dataclass(frozen=True)
class Kind:
    """A writer, and a table it writes *after* taking its versions and before it commits (or
    audits): locking that table from another connection holds the writer there."""

    write: Callable[[Organisation], None]
    gate: type[Model]


WRITERS = {
    "full": Kind(_full_batch, IngestBatch),
    "delta": Kind(_delta_batch, IngestBatch),
    "erasure": Kind(_erasure, ProofOfDeletion),
    "sweep": Kind(_sweep, RestoreReplay),
}


class Recipient:
    """Reads every feed of one school from its own cursors, as a careful recipient does: a record
    or tombstone replaces what it holds only when its version is newer."""

    def __init__(self, school: Organisation, page_size: int = 2) -> None:
        self.school = school
        self.page_size = page_size
        self.since: dict[str, int] = {t: 0 for t in [*record_types(), "deletes"]}
        self.held: dict[tuple[str, str], tuple[int, bool]] = {}  # (type, source id) -> (version, alive)
        self.tombstones: set[int] = set()  # the version of every deletion received

    def read(self) -> None:
        with tenant_scope([self.school.id]):
            for record_type in record_types():
                fields = tuple(c.name for c in spec_for(record_type).columns if c.name != "source_id")
                release = Release(record_type, fields, ())
                self._drain(
                    record_type,
                    lambda since, r=release: selectors.records_page(  # type: ignore[misc]
                        school_id=self.school.id, release=r, since=since, limit=self.page_size
                    ),
                    alive=True,
                )
            self._drain(
                "deletes",
                lambda since: selectors.deletes_page(
                    school_id=self.school.id, record_types=set(record_types()), since=since, limit=self.page_size
                ),
                alive=False,
            )

    def _drain(self, feed: str, read_page: Callable[[int], selectors.Page], *, alive: bool) -> None:
        while True:
            page = read_page(self.since[feed])
            for row in page.rows:
                key = (row.get("record_type", feed), row["source_id"])
                if not alive:
                    self.tombstones.add(row["change_version"])
                if row["change_version"] > self.held.get(key, (0, False))[0]:
                    self.held[key] = (row["change_version"], alive)
            self.since[feed] = page.next_since
            if not page.more:
                return

    def records(self) -> dict[tuple[str, str], int]:
        return {key: version for key, (version, alive) in self.held.items() if alive}


def all_tombstones(school: Organisation) -> set[int]:
    """Tombstones are never removed while the school is served: every one must have been received."""
    with tenant_scope([school.id]):
        return set(Tombstone.objects.values_list("change_version", flat=True))


def table_state(school: Organisation) -> dict[tuple[str, str], int]:
    with tenant_scope([school.id]):
        return {
            (t, source_id): version
            for t in record_types()
            for source_id, version in MODEL_BY_TYPE[t].objects.values_list("source_id", "change_version")
        }


@pytest.fixture
def school(committed_db: None) -> Organisation:
    school = factories.school("Feed Primary", services_=("hosted_mis", "data_exchange"))
    data = b.csv_zip(_records())
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="full", sent_by="test")
    with tenant_scope([school.id]):
        request = rights.request_log(
            school=school,
            kind=RightsRequest.Kind.ERASURE,
            subject_kind="learner",
            subject_id=Learner.objects.get(source_id="L2").id,
            subject_label="L2",
            requested_by="L2's parent",
            received_on=dt.date(2026, 11, 2),
            actor=Actor.system("DPO"),
        )
        rights.request_mark_identity_checked(request=request, actor=Actor.system("DPO"))
    return school


def _in_thread(work: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    """Work on a connection of its own (Django's are per thread), closed at the end."""

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _waiting() -> int:
    """Backends of the test database waiting for a lock (a table lock, or an advisory lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@contextmanager
def _gate(model: type[Model]) -> Iterator[None]:
    """Hold writers of this table where they are until the block ends (the owner's EXCLUSIVE lock
    still lets others read it)."""
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{model._meta.db_table}" IN EXCLUSIVE MODE')
        yield


PAIRS = [("full", "erasure"), ("erasure", "delta"), ("delta", "sweep"), ("sweep", "full")]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}-open-then-{b}" for a, b in PAIRS])
def test_a_read_between_two_writers_of_a_school_misses_nothing(school: Organisation, first: str, second: str) -> None:
    """The first writer has taken its versions and not committed; the second runs (to its commit,
    or to a wait); a recipient reads; the first commits, then the second; the recipient reads
    again. It must hold exactly what the tables hold: no deletion or update skipped."""
    recipient = Recipient(school)
    recipient.read()
    assert recipient.records() == table_state(school)
    before = table_state(school)
    errors: list[BaseException] = []

    with _gate(WRITERS[first].gate):
        held = _in_thread(lambda: WRITERS[first].write(school), errors)
        _until(lambda: _waiting() >= 1, f"the {first} writer never reached its gate")
        late = _in_thread(lambda: WRITERS[second].write(school), errors)
        _until(lambda: not late.is_alive() or _waiting() >= 2, f"the {second} writer neither finished nor waited")
        recipient.read()
    held.join(WAIT_SECONDS)
    late.join(WAIT_SECONDS)
    assert not errors
    assert not held.is_alive() and not late.is_alive()
    recipient.read()

    after = table_state(school)
    gone = GONE[first] | GONE[second]
    if (first, second) == ("sweep", "full"):
        gone -= GONE["sweep"]  # a full batch committed after the sweep sends the leaver again (the MIS has them)
    assert gone <= {k for k in before if k not in after}
    assert recipient.records() == after
    assert recipient.tombstones == all_tombstones(school)


# What each writer deletes (and so must reach the recipient as a tombstone).
GONE = {
    "full": {("learners", "L6"), ("school-enrolments", "E-L6"), ("learner-contacts", "LC-L6")},
    "delta": {("learners", "L4"), ("school-enrolments", "E-L4"), ("learner-contacts", "LC-L4")},
    "erasure": {("learners", "L2"), ("school-enrolments", "E-L2"), ("learner-contacts", "LC-L2")},
    "sweep": {("learners", "L5"), ("school-enrolments", "E-L5"), ("learner-contacts", "LC-L5")},
}


def _random_full(school: Organisation, rng: random.Random) -> None:
    """A full batch of a random set of the pool's learners under random names (L11, L12 are leavers)."""
    ids = sorted(rng.sample(POOL, rng.randint(6, len(POOL))))
    records = {
        "learners": [b.learner(i, legal_forename=rng.choice(NAMES)) for i in ids],
        "contacts": [b.contact("C1")],
        "learner-contacts": [b.link(f"LC-{i}", i, "C1") for i in ids],
        "school-enrolments": [_enrolment(i, "2020-07-20" if i in ("L11", "L12") else "") for i in ids],
    }
    data = b.csv_zip(records)
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="full", sent_by="test")


def _random_delta(school: Organisation, rng: random.Random) -> None:
    renamed = [b.learner(i, legal_forename=rng.choice(NAMES)) for i in rng.sample(POOL, 2)]
    data = b.csv_zip({"learners": renamed}, deletes=[("learners", rng.choice(POOL))])
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="delta", sent_by="test")


def _random_erasure(school: Organisation, rng: random.Random) -> None:
    with tenant_scope([school.id]):
        row = Learner.objects.filter(source_id=rng.choice(POOL)).first()
        if row is not None:
            MisPrivacyProvider().erase_subject(Subject("learner", row.id, school.id), dry_run=False)


def _random_sweep(school: Organisation, rng: random.Random) -> None:
    retention_sweep(today=SWEEP_DAY, schools=[school], processor_wide=False)


POOL = [f"L{n}" for n in range(1, 13)]
NAMES = ["Sam", "Priya", "Jo", "Ade", "Mia"]
STRESS_SECONDS = 4.0


def test_a_recipient_reading_in_a_loop_while_every_writer_runs_ends_with_what_the_tables_hold(
    school: Organisation,
) -> None:
    """Full and delta batches, erasures and sweeps of one school, each on its own connection in a
    loop, while a recipient reads in a loop; afterwards one more read must leave it holding exactly
    what the tables hold."""
    recipient = Recipient(school, page_size=5)
    stop = threading.Event()
    errors: list[BaseException] = []
    runs: dict[str, int] = {}

    def loop(name: str, write: Callable[[Organisation, random.Random], None], seed: int) -> Callable[[], None]:
        def work() -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                write(school, rng)
                runs[name] = runs.get(name, 0) + 1

        return work

    reads = [0]

    def jitter() -> None:
        """Over and over, hold the batch or sweep that comes next after it took its versions (see
        `Kind.gate`) until the recipient has read twice, while other writers carry on: the race
        that a slow merge makes possible, made common."""
        rng = random.Random(99)
        while not stop.is_set():
            with _gate(rng.choice([IngestBatch, RestoreReplay])):
                start, until = reads[0], time.monotonic() + 1.0
                while not stop.is_set() and time.monotonic() < until and (reads[0] < start + 2 or not _waiting()):
                    time.sleep(0.01)
            time.sleep(0.01)

    writers = [_random_full, _random_delta, _random_erasure, _random_sweep]
    threads = [_in_thread(loop(w.__name__, w, n), errors) for n, w in enumerate(writers)]
    threads.append(_in_thread(jitter, errors))
    deadline = time.monotonic() + STRESS_SECONDS
    while time.monotonic() < deadline and not errors:
        recipient.read()
        reads[0] += 1
    stop.set()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not errors
    assert reads[0] > 1 and set(runs) == {w.__name__ for w in writers}
    recipient.read()

    # A skipped deletion can be healed by a later insert of the same record, so the deletes feed is
    # checked in full as well as the end state.
    assert recipient.tombstones == all_tombstones(school)
    assert recipient.records() == table_state(school)


def test_records_changed_while_their_subject_was_restricted_are_sent_once_the_restriction_is_lifted(
    school: Organisation,
) -> None:
    """Feeds leave a restricted subject's records out but move past their versions; lifting the
    restriction must send them again, or the change made meanwhile never reaches the recipient."""
    recipient = Recipient(school)
    recipient.read()
    with tenant_scope([school.id]):
        subject = Subject("learner", Learner.objects.get(source_id="L2").id, school.id)
        MisPrivacyProvider().restrict_subject(subject, restricted=True)
    renamed = [b.learner("L2", legal_forename="Renamed"), b.learner("L3", legal_forename="Renamed")]
    data = b.csv_zip({"learners": renamed})
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="delta", sent_by="test")
    recipient.read()
    held_while_restricted = recipient.records()[("learners", "L2")]
    assert held_while_restricted < table_state(school)[("learners", "L2")]  # withheld, and `since` moved past it

    with tenant_scope([school.id]):
        MisPrivacyProvider().restrict_subject(subject, restricted=False)
    recipient.read()

    assert recipient.records() == table_state(school)
