"""Impossible travel and a new country, from successful sign-ins placed by the offline IP database.

Sign-ins are few beside page views: a pass reads its own (set-based, from `monitoring_new`), places
each distinct address once in Python, and compares each person's sign-ins with what
`monitoring.SignInCountry` remembers of them (per country: first and last time, last event), which
the pass then brings up to date. Nothing is read back from the audit log, so the cost follows the new
sign-ins. The travel rule runs first and the new-country rule last, which writes the summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from steward.monitoring.config import rule_settings
from steward.monitoring.geo import country_of
from steward.monitoring.rules.base import Finding, PassContext


@dataclass(frozen=True)
class SignIn:
    id: int
    user_id: int
    at: dt.datetime
    country: str


@dataclass(frozen=True)
class Seen:
    country: str
    last_seen: dt.datetime
    last_event_id: int


def sign_ins(cursor: Any, ctx: PassContext) -> tuple[dict[int, list[SignIn]], dict[int, list[Seen]]]:
    """This pass's placed sign-ins by person, and what earlier passes saw of the same people."""
    if "sign_ins" in ctx.shared:
        return ctx.shared["sign_ins"]  # type: ignore[no-any-return]
    cursor.execute(
        "SELECT id, actor_user_id, occurred_at, host(ip_address) FROM monitoring_new "
        "WHERE action = 'sign_in' AND actor_user_id IS NOT NULL ORDER BY occurred_at, id"
    )
    places: dict[str | None, str] = {}
    new: dict[int, list[SignIn]] = {}
    for event_id, user_id, at, ip in cursor.fetchall():
        if ip not in places:
            places[ip] = country_of(ip)
        if places[ip]:
            new.setdefault(user_id, []).append(SignIn(event_id, user_id, at, places[ip]))
    seen: dict[int, list[Seen]] = {}
    if new:
        cursor.execute(
            "SELECT user_id, country, last_seen, last_event_id FROM monitoring_signincountry WHERE user_id = ANY(%s)",
            [sorted(new)],
        )
        for user_id, country, last_seen, last_event_id in cursor.fetchall():
            seen.setdefault(user_id, []).append(Seen(country, last_seen, last_event_id))
    ctx.shared["sign_ins"] = (new, seen)
    return new, seen


def remember(cursor: Any, new: dict[int, list[SignIn]]) -> None:
    """Bring the per-country summary up to date with this pass's sign-ins: summed per (person,
    country) here first, so one statement sends a row per pair, not per sign-in."""
    pairs: dict[tuple[int, str], tuple[dt.datetime, dt.datetime, int]] = {}
    for events in new.values():
        for s in events:
            seen = pairs.get((s.user_id, s.country))
            pairs[(s.user_id, s.country)] = (
                (min(seen[0], s.at), max(seen[1], s.at), max(seen[2], s.id)) if seen else (s.at, s.at, s.id)
            )
    if not pairs:
        return
    cursor.execute(
        """
        INSERT INTO monitoring_signincountry AS c (user_id, country, first_seen, last_seen, last_event_id)
        SELECT * FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::bigint[])
        ON CONFLICT (user_id, country) DO UPDATE SET
            first_seen = least(c.first_seen, EXCLUDED.first_seen),
            last_seen = greatest(c.last_seen, EXCLUDED.last_seen),
            last_event_id = greatest(c.last_event_id, EXCLUDED.last_event_id)
        """,
        [
            [user for user, _ in pairs],
            [country for _, country in pairs],
            [v[0] for v in pairs.values()],
            [v[1] for v in pairs.values()],
            [v[2] for v in pairs.values()],
        ],
    )


class ImpossibleTravel:
    name = "impossible_travel"
    title = "Signed in from two countries too far apart"
    description = (
        "One person signed in from two different countries closer together in time than anyone could travel "
        "between them: someone else probably has their password."
    )
    processor_wide = False

    def hours_between(self, a: str, b: str) -> float:
        cfg = rule_settings(self.name)
        pairs: dict[str, float] = cfg["pair_hours"]
        return float(pairs.get(f"{a}-{b}", pairs.get(f"{b}-{a}", cfg["default_hours"])))

    def run(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        new, seen = sign_ins(cursor, ctx)
        found: list[Finding] = []
        for user_id, events in new.items():
            earlier = max(seen.get(user_id, []), key=lambda s: s.last_seen, default=None)
            previous = SignIn(earlier.last_event_id, user_id, earlier.last_seen, earlier.country) if earlier else None
            for current in events:
                if previous is not None and previous.country != current.country:
                    hours = (current.at - previous.at).total_seconds() / 3600
                    needed = self.hours_between(previous.country, current.country)
                    if hours < needed:
                        found.append(self._finding(previous, current, hours, needed))
                previous = current
        return found

    def _finding(self, before: SignIn, after: SignIn, hours: float, needed: float) -> Finding:
        return Finding(
            rule=self.name,
            subject_kind="user",
            subject_key=f"user:{after.user_id}",
            window_start=before.at,
            window_end=after.at,
            event_ids=[before.id, after.id],
            event_count=2,
            first_at=before.at,
            last_at=after.at,
            summary=(
                f"Signed in from {before.country} then {after.country} {hours:.1f} hours later "
                f"(travel takes at least {needed:g})"
            ),
            counts={"from": before.country, "to": after.country, "hours": round(hours, 2)},
        )


class NewCountry:
    name = "new_country"
    title = "Signed in from abroad for the first time"
    description = (
        "A member of staff signed in from a country outside the UK that they have not signed in from in the "
        "previous 90 days. UK schools rarely sign in from abroad."
    )
    processor_wide = False

    def run(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = rule_settings(self.name)
        home, days = set(cfg["home"]), int(cfg["history_days"])
        new, seen = sign_ins(cursor, ctx)
        found: list[Finding] = []
        for user_id, events in new.items():
            last: dict[str, dt.datetime] = {s.country: s.last_seen for s in seen.get(user_id, [])}
            for s in events:
                recent = s.country in last and s.at - last[s.country] <= dt.timedelta(days=days)
                if s.country not in home and not recent:
                    found.append(
                        Finding(
                            rule=self.name,
                            subject_kind="user",
                            subject_key=f"user:{user_id}",
                            window_start=s.at,
                            window_end=s.at,
                            event_ids=[s.id],
                            event_count=1,
                            first_at=s.at,
                            last_at=s.at,
                            summary=f"First sign-in from {s.country} in {days} days",
                            counts={"country": s.country},
                        )
                    )
                last[s.country] = s.at
        remember(cursor, new)
        return found
