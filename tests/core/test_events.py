"""The event registry's two deliveries, on real PostgreSQL transactions (committed, not wrapped in
a test transaction, so a rollback and a commit are the real ones)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import transaction

from steward.core.events import Event, publish, subscribe, subscribers, unsubscribe
from steward.tenancy.models import Organisation


@dataclass(frozen=True)
class Pinged(Event):
    """A test-only event: its listeners write an organisation named after it."""

    name: str


class Boom(Exception):
    pass


def _then_roll_back(body: Callable[[], None]) -> None:
    """Run `body` in a transaction that then fails, as a publisher's would."""
    with transaction.atomic():
        body()
        raise Boom


def _write_row(event: Pinged) -> None:
    Organisation.objects.create(kind=Organisation.Kind.PROCESSOR, name=event.name)


heard: list[Pinged] = []


def _remember(event: Pinged) -> None:
    heard.append(event)


@pytest.fixture
def listening() -> Iterator[None]:
    heard.clear()
    yield
    unsubscribe(Pinged, _write_row)
    unsubscribe(Pinged, _remember)
    heard.clear()


def test_an_in_transaction_listener_runs_at_once_and_rolls_back_with_the_publisher(
    committed_db: None, listening: None
) -> None:
    subscribe(Pinged, _write_row, when="in_transaction")
    seen_inside = []

    def body() -> None:
        publish(Pinged(school_id=0, name="rolled back"))
        seen_inside.append(Organisation.objects.filter(name="rolled back").exists())

    with pytest.raises(Boom):
        _then_roll_back(body)
    assert seen_inside == [True]  # it ran inside the transaction, at once
    assert not Organisation.objects.filter(name="rolled back").exists()

    with transaction.atomic():
        publish(Pinged(school_id=0, name="kept"))
    assert Organisation.objects.filter(name="kept").count() == 1


def test_an_in_transaction_listener_that_fails_aborts_the_publisher(committed_db: None, listening: None) -> None:
    def refuse(event: Pinged) -> None:
        raise Boom(event.name)

    subscribe(Pinged, refuse, when="in_transaction")

    def body() -> None:
        with transaction.atomic():
            Organisation.objects.create(kind=Organisation.Kind.PROCESSOR, name="publisher's row")
            publish(Pinged(school_id=0, name="refused"))

    try:
        with pytest.raises(Boom, match="refused"):
            body()
    finally:
        unsubscribe(Pinged, refuse)
    assert not Organisation.objects.filter(name="publisher's row").exists()


def test_an_after_commit_listener_never_runs_on_rollback_and_once_after_commit(
    committed_db: None, listening: None
) -> None:
    subscribe(Pinged, _remember, when="after_commit")
    heard_inside: list[list[Pinged]] = []

    def body() -> None:
        publish(Pinged(school_id=0, name="rolled back"))
        heard_inside.append(list(heard))

    with pytest.raises(Boom):
        _then_roll_back(body)
    assert heard_inside == [[]]
    assert heard == []

    with transaction.atomic():
        publish(Pinged(school_id=7, name="committed"))
        assert heard == []  # not before the commit
    assert heard == [Pinged(school_id=7, name="committed")]

    with transaction.atomic():
        Organisation.objects.create(kind=Organisation.Kind.PROCESSOR, name="a later transaction")
    assert heard == [Pinged(school_id=7, name="committed")]  # once, not again at the next commit


def test_an_after_commit_listener_waits_for_the_outermost_commit(committed_db: None, listening: None) -> None:
    subscribe(Pinged, _remember, when="after_commit")
    heard_after_inner: list[list[Pinged]] = []

    def body() -> None:
        with transaction.atomic():
            publish(Pinged(school_id=0, name="inner"))
        heard_after_inner.append(list(heard))  # the inner block's end is a savepoint, not a commit

    with pytest.raises(Boom):
        _then_roll_back(body)
    assert heard_after_inner == [[]]
    assert heard == []


def test_subscribing_twice_delivers_once(committed_db: None, listening: None) -> None:
    subscribe(Pinged, _remember, when="in_transaction")
    subscribe(Pinged, _remember, when="in_transaction")
    publish(Pinged(school_id=0, name="once"))
    assert heard == [Pinged(school_id=0, name="once")]


def test_an_unknown_delivery_is_refused(listening: None) -> None:
    with pytest.raises(ValueError, match="in_transaction"):
        subscribe(Pinged, _remember, when="later")  # type: ignore[arg-type]
    assert subscribers(Pinged) == []
