"""Rate limits in the database: a limit per window per key, shared by every process."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from steward.core import ratelimit
from steward.core.models import RateLimitCounter
from steward.register.privacy import CorePrivacyProvider
from steward.register.providers import Subject

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _rules(settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "probe": (3, 600)}


@pytest.mark.django_db
def test_the_limit_is_allowed_and_the_next_is_refused_until_the_window_ends() -> None:
    decisions = [ratelimit.hit("probe", "203.0.113.9", now=T0 + dt.timedelta(seconds=i)) for i in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.just_locked for d in decisions] == [False, False, True, False]
    assert decisions[3].retry_after == 597  # the window opened at the first hit
    assert ratelimit.hit("probe", "203.0.113.9", now=T0 + dt.timedelta(seconds=599)).allowed is False
    fresh = ratelimit.hit("probe", "203.0.113.9", now=T0 + dt.timedelta(seconds=600))
    assert (fresh.allowed, fresh.hits) == (True, 1)


@pytest.mark.django_db
def test_keys_and_rules_are_counted_apart(settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "other": (3, 600)}
    for _ in range(3):
        ratelimit.hit("probe", "203.0.113.9", now=T0)

    assert ratelimit.hit("probe", "203.0.113.10", now=T0).allowed is True
    assert ratelimit.hit("other", "203.0.113.9", now=T0).allowed is True
    assert ratelimit.hit("probe", "203.0.113.9", now=T0).allowed is False


@pytest.mark.django_db
def test_refusal_reads_without_counting() -> None:
    ratelimit.hit("probe", "k", now=T0)
    ratelimit.hit("probe", "k", now=T0)
    assert ratelimit.refusal("probe", "k", now=T0).allowed is True
    assert RateLimitCounter.objects.get().hits == 2

    ratelimit.hit("probe", "k", now=T0)
    refused = ratelimit.refusal("probe", "k", now=T0 + dt.timedelta(seconds=10))
    assert (refused.allowed, refused.retry_after) == (False, 590)
    assert ratelimit.refusal("probe", "k", now=T0 + dt.timedelta(seconds=600)).allowed is True


@pytest.mark.django_db
def test_clear_forgets_the_count() -> None:
    for _ in range(4):
        ratelimit.hit("probe", "k", now=T0)
    ratelimit.clear("probe", "k")
    assert ratelimit.hit("probe", "k", now=T0).hits == 1


@pytest.mark.django_db
def test_the_table_holds_no_address_or_account_in_clear() -> None:
    ratelimit.hit("probe", "203.0.113.9")
    [row] = RateLimitCounter.objects.all()
    assert "203.0.113.9" not in row.key
    assert len(row.key) == 64


@pytest.mark.django_db
def test_sweep_deletes_only_ended_windows() -> None:
    ratelimit.hit("probe", "old", now=T0)
    ratelimit.hit("probe", "new", now=T0 + dt.timedelta(seconds=300))

    assert ratelimit.sweep(now=T0 + dt.timedelta(seconds=700)) == 1
    assert ratelimit.refusal("probe", "new", now=T0 + dt.timedelta(seconds=700)).hits == 1


def test_parallel_hits_from_separate_connections_never_exceed_the_limit(committed_db: None) -> None:
    """Workers are processes with their own connections: the upsert makes them count one row."""
    allowed: list[bool] = []

    def attempt() -> None:
        try:
            allowed.append(ratelimit.hit("probe", "k", now=timezone.now()).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(allowed) == [False] * 9 + [True] * 3
    assert RateLimitCounter.objects.get().hits == 12


@pytest.mark.django_db
def test_an_accounts_two_factor_counter_is_exported_and_erased_with_it() -> None:
    ratelimit.hit("two_factor", "parent:42", now=T0)
    ratelimit.hit("two_factor", "parent:42", now=T0)
    ratelimit.hit("two_factor", "staff:42", now=T0)
    provider = CorePrivacyProvider()

    exported = provider.export_subject(Subject(kind="parent_user", id=42, school_id=1))
    assert [(r["rule"], r["wrong_codes"]) for r in exported["core.RateLimitCounter"]] == [("two_factor", 2)]
    assert provider.erase_subject(Subject(kind="parent_user", id=42, school_id=1), dry_run=True).deleted == {
        "core.RateLimitCounter": 1
    }
    assert RateLimitCounter.objects.count() == 2
    provider.erase_subject(Subject(kind="parent_user", id=42, school_id=1), dry_run=False)
    assert RateLimitCounter.objects.count() == 1  # the staff account 42 is another person
    assert provider.export_subject(Subject(kind="learner", id=42, school_id=1)) == {}
