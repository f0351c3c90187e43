"""A small typed event registry, so that a lower app lets higher ones react without importing them.

The layers are one-way (ground: core, register; data: tenancy, audit, mis; processes: ingest,
sharing, consents, rights, retention; faces: notices, portal, backoffice, api). When something
happens in a lower app that a higher one must act on (a batch committed, a subject erased), the
lower app publishes an event and the higher app subscribes to it in its `AppConfig.ready`; the
lower app never names the higher one, not even inside a function.

An event is a frozen dataclass subclassing `Event` (or `BaseEvent`, when it names no school),
defined in the app that publishes it (or here, when a subscriber sits below the publisher and may
not import it). The *subscription* says when
its handler runs, because one event can need both kinds: completing a rectification must commit or
roll back with the batch that brought the correction (`in_transaction`), while telling parents
about new homework must wait until the rows are visible to the task that sends the messages
(`after_commit`). DESIGN.md lists every event with its publisher, subscribers and delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from django.db import transaction

When = Literal["in_transaction", "after_commit"]


@dataclass(frozen=True)
class BaseEvent:
    """Root of every event. One about the whole processor's record, which names no school (the
    register catalogue synced), subclasses it directly; one that happened in a school, `Event`."""


@dataclass(frozen=True)
class Event(BaseEvent):
    """Base of every event that happened in one school: a frozen value naming the school."""

    school_id: int


E = TypeVar("E", bound=BaseEvent)

_subscribers: dict[type[BaseEvent], list[tuple[Callable[[Any], None], When]]] = {}


def subscribe(event_type: type[E], handler: Callable[[E], None], *, when: When) -> None:
    """Run `handler` for every published `event_type`: at once, inside the publisher's transaction
    (its work commits or rolls back with the publisher's), or once after that transaction commits
    (never, if it rolls back). Subscribing the same handler twice changes nothing, so a `ready`
    that runs again does not double the work."""
    if when not in ("in_transaction", "after_commit"):
        raise ValueError(f"when must be 'in_transaction' or 'after_commit', not {when!r}")
    entries = _subscribers.setdefault(event_type, [])
    if (handler, when) not in entries:
        entries.append((handler, when))


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Remove a handler (tests that subscribe their own listeners clean up with this)."""
    _subscribers[event_type] = [(h, w) for h, w in _subscribers.get(event_type, []) if h is not handler]


def publish(event: BaseEvent) -> None:
    """Deliver `event` to its subscribers, in the order they subscribed.

    An in-transaction handler that raises aborts the publisher (and so rolls its transaction back):
    its work was meant to be part of it. After-commit handlers are queued with
    `transaction.on_commit`; outside any atomic block they run at once, as Django does.
    """
    for handler, when in list(_subscribers.get(type(event), [])):
        if when == "in_transaction":
            handler(event)
        else:
            transaction.on_commit(partial(handler, event))


def subscribers(event_type: type[BaseEvent]) -> list[tuple[str, When]]:
    """Who listens to an event, and when: for DESIGN.md's table and the test that keeps it true."""
    return [(f"{h.__module__}.{h.__qualname__}", w) for h, w in _subscribers.get(event_type, [])]


@dataclass(frozen=True)
class SubjectErased(Event):
    """Rights erased a subject (Art. 17). Published by rights; retention, which sits below rights,
    records it so that restoring an older backup erases the subject again."""

    record_type: str
    source_id: str


@dataclass(frozen=True)
class FlowChanged(Event):
    """A data flow was approved, suspended, resumed or revoked. Published by sharing; the notices
    record a new version of the school's privacy notice inside the change's transaction, so the
    version exists exactly when the change does and is dated with it."""

    flow_id: int
    status: str
