"""Core's one table: the counters of `core.ratelimit`."""

from __future__ import annotations

from django.db import models

from steward.core.classification import PersonalData


class RateLimitCounter(models.Model):
    """How often something was tried in the current window, for one rule and one key (an address,
    an account, an API client). One row per rule and key, updated in place by one SQL upsert, so
    every gunicorn worker counts into the same row; the row is useless once the window has ended
    and `ratelimit.sweep` deletes it.

    The key is stored only as an HMAC (with SECRET_KEY) of the rule and the address or account it
    counts, so a copy of the table does not list who tried to sign in from where."""

    key = models.CharField(primary_key=True, max_length=64)
    window_ends_at = models.DateTimeField(db_index=True)
    hits = models.IntegerField()

    privacy = PersonalData(
        subject="school_user",
        fields={"key": "school_user.sign_in"},
        not_personal={"window_ends_at", "hits"},
    )

    def __str__(self) -> str:
        return f"{self.hits} until {self.window_ends_at:%H:%M:%S}"
