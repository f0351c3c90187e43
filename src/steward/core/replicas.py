"""Read replicas: read-only units of work read from a PostgreSQL streaming replica, writes go to the primary.

An operator names hot standbys in `DATABASE_REPLICA_URLS`; each becomes a database alias
(`replica_0`, `replica_1`...) with the app role and options of `default` (`database.replica_settings`).
With none named, nothing here does anything: every read and write goes to `default`, as before.

- `reading_from_replica()` (a context manager and a decorator) marks a unit of work that reads.
  Inside it `ReplicaRouter` sends the ORM's reads to a healthy replica and its writes to the primary.
  A write inside the block is not refused (a read's audit event and disclosure must be written): it
  goes to the primary, and from then on the block reads from the primary too, so it never reads its
  own write from a replica. Raw SQL names its connection (`connection` is always the primary);
  `read_alias()` is the alias a block's raw reads should use.
- A replica is healthy when it answers, is still in recovery (a promoted standby follows no one),
  and lags at most `STEWARD_REPLICA_MAX_LAG_SECONDS`: no lag when it has replayed the primary's
  current WAL position, else the age of the last transaction it replayed. The verdict is kept for
  `HEALTH_SECONDS`; a lagging or unreachable replica is skipped and the block reads the primary.
- `PinToPrimaryMiddleware`: a request that may have written (any method but GET, HEAD, OPTIONS)
  leaves a cookie that pins the browser's next requests to the primary for longer than a replica
  may lag, so the page after a form never shows the state before it.
- Row-level security holds on a replica as on the primary: the app role is the same, and the
  tenancy layer registers (`register_session_settings`) the settings of its scope, which are set on
  a replica's connection (for its session) before any statement whose scope differs from the last.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse

PRIMARY = "default"
PREFIX = "replica_"
HEALTH_SECONDS = 5.0  # how long a replica's verdict (lag, reachable) is kept
PIN_COOKIE = "steward_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass
class _Block:
    """One read-only unit of work: the replica it reads from, once chosen, and whether it wrote."""

    alias: str | None = None  # chosen at its first read
    wrote: bool = False
    pinned: bool = False


@dataclass
class _Health:
    checked: float
    lag: float | None  # None: unreachable, not a standby, or lag unknown


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    health: dict[str, _Health] = field(default_factory=dict)
    turn: Iterator[int] = field(default_factory=itertools.count)


_block: ContextVar[_Block | None] = ContextVar("steward_replica_block", default=None)
_pinned: ContextVar[bool] = ContextVar("steward_replica_pinned", default=False)
_state = _State()
_session_settings: list[Callable[[], dict[str, str]]] = []


def aliases() -> list[str]:
    """The replica aliases configured, in order (none: replicas are off)."""
    return sorted(a for a in connections.settings if a.startswith(PREFIX))


def max_lag() -> float:
    return float(settings.STEWARD_REPLICA_MAX_LAG_SECONDS)


def pin_seconds() -> int:
    """How long a write pins a browser to the primary: longer than any replica it could read may lag."""
    return int(max_lag() + HEALTH_SECONDS) + 1


@contextmanager
def reading_from_replica() -> Iterator[None]:
    """Mark the block as a read-only unit of work: its ORM reads may come from a replica.

    Nested blocks share the outer one (one replica, one "wrote"). A block entered while the
    request is pinned (`PinToPrimaryMiddleware`) reads from the primary."""
    if _block.get() is not None or not aliases():
        yield
        return
    token = _block.set(_Block(pinned=_pinned.get()))
    try:
        yield
    finally:
        _block.reset(token)


def replica_reads(view: F) -> F:
    """Decorate a view: its GET and HEAD requests read from a replica; other methods as before.

    The session is loaded from the primary first: who is signed in is never a replica's answer, so
    a session ended elsewhere (signing out everywhere, closing the account) ends at once."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        session = getattr(request, "session", None)
        if session is not None:
            session.keys()  # loads it (a lazy read otherwise made inside the block)
        with reading_from_replica():
            return view(request, *args, **kwargs)

    return cast(F, wrapped)


def streamed(lines: Iterable[T]) -> Iterator[T]:
    """`lines` (a generator that reads as it goes, like an export) read inside a reading block.

    A streamed response is iterated after the view and the middleware have returned: the request's
    pin is taken now, and the block is opened around the iteration itself."""
    pinned = _pinned.get()

    def run() -> Iterator[T]:
        outer = _pinned.set(pinned)
        try:
            with reading_from_replica():
                yield from lines
        finally:
            _pinned.reset(outer)

    return run()


def read_alias() -> str:
    """The alias this unit of work reads from: a healthy replica inside a block, else the primary."""
    block = _block.get()
    if block is None or block.wrote or block.pinned:
        return PRIMARY
    if block.alias is None:
        block.alias = choose() or PRIMARY
    return block.alias


def use_primary() -> None:
    """From here to the end of the block, read from the primary (as after a write)."""
    block = _block.get()
    if block is not None:
        block.wrote = True


def caught_up() -> bool:
    """Whether the block's replica has replayed everything the primary had written by now; if not,
    the rest of the block reads from the primary. For a reader whose answer is kept under a key
    read from the primary (the OneRoster cache): call it after reading the key, so what the replica
    shows is at least as new as the key says."""
    alias = read_alias()
    if alias == PRIMARY:
        return True
    try:
        position = _primary_position()
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", [position])
            done = bool(cursor.fetchone()[0])  # type: ignore[index]
    except DatabaseError:
        done = False
    if not done:
        use_primary()
    return done


def choose() -> str | None:
    """A healthy replica, taking turns among them; None when none is."""
    healthy = [alias for alias in aliases() if _lag(alias) is not None]
    if not healthy:
        return None
    with _state.lock:
        return healthy[next(_state.turn) % len(healthy)]


def forget_health() -> None:
    """Drop every kept verdict (tests; an operator's change of settings in a running process)."""
    with _state.lock:
        _state.health.clear()


def _lag(alias: str) -> float | None:
    now = time.monotonic()
    with _state.lock:
        kept = _state.health.get(alias)
    if kept is None or now - kept.checked >= HEALTH_SECONDS:
        kept = _Health(checked=now, lag=_measure(alias))
        with _state.lock:
            _state.health[alias] = kept
    if kept.lag is None or kept.lag > max_lag():
        return None
    return kept.lag


def _primary_position() -> str:
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return str(cursor.fetchone()[0])  # type: ignore[index]


def _measure(alias: str) -> float | None:
    """The replica's lag in seconds, or None when it cannot be used (unreachable, not a standby)."""
    try:
        position = _primary_position()
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false), "
                "extract(epoch FROM now() - pg_last_xact_replay_timestamp())",
                [position],
            )
            in_recovery, replayed, age = cursor.fetchone()  # type: ignore[misc]
    except DatabaseError:
        connections[alias].close()
        return None
    if not in_recovery:
        return None
    if replayed:
        return 0.0
    return None if age is None else max(0.0, float(age))


class ReplicaRouter:
    """Reads inside `reading_from_replica` to its replica; writes always to the primary.

    After `MigrateAsOwnerRouter` (migrations keep going to the owner). Outside a block it answers
    only for objects read from a replica, so that neither their later reads nor their saves stay
    there; replicas are never migrated (they copy the primary)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if _block.get() is not None:
            return read_alias()
        return PRIMARY if _from_replica(hints) else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        block = _block.get()
        if block is not None:
            block.wrote = True
            return PRIMARY
        return PRIMARY if _from_replica(hints) else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        ours = {PRIMARY, *aliases()}
        if obj1._state.db in ours and obj2._state.db in ours:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return False if db.startswith(PREFIX) else None


def _from_replica(hints: dict[str, Any]) -> bool:
    instance = hints.get("instance")
    db = getattr(getattr(instance, "_state", None), "db", None)
    return isinstance(db, str) and db.startswith(PREFIX)


# --- The tenant's settings on a replica's connection


def register_session_settings(provider: Callable[[], dict[str, str]]) -> None:
    """A layer above names the settings (name -> value) its scope gives PostgreSQL right now; a
    replica's connection is given them before each statement run while they differ from the last
    it was given (on the primary the scope sets them itself, for its transaction)."""
    if provider not in _session_settings:
        _session_settings.append(provider)


def _wanted() -> dict[str, str]:
    wanted: dict[str, str] = {}
    for provider in _session_settings:
        wanted.update(provider())
    return wanted


def _apply_settings(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    wrapper = context["connection"]
    wanted = _wanted()
    if wanted and (wrapper.in_atomic_block or getattr(wrapper, "steward_settings", None) != wanted):
        names = sorted(wanted)
        calls = ", ".join("set_config(%s, %s, false)" for _ in names)
        with wrapper.connection.cursor() as raw:
            raw.execute(f"SELECT {calls}", [v for name in names for v in (name, wanted[name])])  # nosec B608
        # Inside a transaction a rollback would take them back: give them again next time.
        wrapper.steward_settings = None if wrapper.in_atomic_block else wanted
    return execute(sql, params, many, context)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    if not connection.alias.startswith(PREFIX):
        return
    connection.steward_settings = None
    if _apply_settings not in connection.execute_wrappers:
        connection.execute_wrappers.append(_apply_settings)


connection_created.connect(_on_connection_created, dispatch_uid="steward.core.replicas")


# --- Pinning a browser to the primary after it wrote


class PinToPrimaryMiddleware:
    """Pins a browser to the primary for `pin_seconds()` after a request that may have written.

    The cookie only ever sends its holder to the primary: forging or dropping it changes nothing
    but where that browser's reads come from. API clients (no cookies) are pinned within a request
    only (a write in a block)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not aliases():
            return self.get_response(request)
        token = _pinned.set(PIN_COOKIE in request.COOKIES or request.method not in SAFE_METHODS)
        try:
            response = self.get_response(request)
        finally:
            _pinned.reset(token)
        if request.method not in SAFE_METHODS:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=pin_seconds(),
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
        return response
