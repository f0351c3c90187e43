"""Privacy provider for core's rate-limit counters (registered by the register's `ready`: core may
not import the provider protocol, which the register owns, and the register may import core).

A counter keyed by an account (wrong two-factor codes) belongs to that account's holder and is
exported and erased with it. Counters keyed by an address or an API client id cannot be tied to
a person (the key is stored only as an HMAC) and end with their window, at most minutes later.
"""

from __future__ import annotations

from typing import Any

from steward.core import ratelimit
from steward.core.models import RateLimitCounter
from steward.register.providers import ErasureReport, HeldData, Subject

_ACCOUNT_PREFIX = {"school_user": "staff", "parent_user": "parent"}


def _counters(subject: Subject) -> Any:
    prefix = _ACCOUNT_PREFIX.get(subject.kind)
    if prefix is None:
        return RateLimitCounter.objects.none()
    return RateLimitCounter.objects.filter(key=ratelimit.digest("two_factor", f"{prefix}:{subject.id}"))


class CorePrivacyProvider:
    app_label = "core"

    def describe(self) -> list[HeldData]:
        return [HeldData("core.RateLimitCounter", ("school_user", "parent_user"), ("school_user.sign_in",))]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        rows = [
            {"rule": "two_factor", "wrong_codes": c.hits, "window_ends_at": c.window_ends_at}
            for c in _counters(subject)
        ]
        return {"core.RateLimitCounter": rows} if rows else {}

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        counters = _counters(subject)
        count = counters.count() if dry_run else counters.delete()[0]
        if count:
            report.deleted["core.RateLimitCounter"] = count
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """A counter is only read to refuse sign-in; it is not processed otherwise."""
