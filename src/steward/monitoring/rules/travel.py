"""Impossible travel and a new country, from successful sign-ins placed by the offline IP database.

Sign-ins are few beside page views, so these rules read them set-based (this pass's sign-ins, then
the same people's earlier sign-ins through the audit log's actor-and-time index) and place each
distinct address once in Python; nothing else in the pass leaves PostgreSQL.
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
    new: bool


def sign_ins(cursor: Any, ctx: PassContext, history_days: int) -> dict[int, list[SignIn]]:
    """This pass's successful sign-ins and, for the same people, those of the previous `history_days`."""
    cursor.execute(
        "SELECT id, actor_user_id, occurred_at, host(ip_address) FROM monitoring_new "
        "WHERE action = 'sign_in' AND actor_user_id IS NOT NULL"
    )
    new = cursor.fetchall()
    if not new:
        return {}
    users = sorted({r[1] for r in new})
    since = min(r[2] for r in new) - dt.timedelta(days=history_days)
    cursor.execute(
        "SELECT id, actor_user_id, occurred_at, host(ip_address) FROM audit_auditevent "
        "WHERE actor_user_id = ANY(%s) AND occurred_at >= %s AND action = 'sign_in' AND id <= %s",
        [users, since, ctx.lo],
    )
    old = cursor.fetchall()
    places: dict[str | None, str] = {}
    by_user: dict[int, list[SignIn]] = {}
    for rows, is_new in ((old, False), (new, True)):
        for event_id, user_id, at, ip in rows:
            if ip not in places:
                places[ip] = country_of(ip)
            by_user.setdefault(user_id, []).append(SignIn(event_id, user_id, at, places[ip], is_new))
    for events in by_user.values():
        events.sort(key=lambda s: (s.at, s.id))
    return by_user


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
        found: list[Finding] = []
        for user_id, events in sign_ins(cursor, ctx, int(rule_settings(self.name)["history_days"])).items():
            placed = [s for s in events if s.country]
            for before, after in zip(placed, placed[1:], strict=False):
                if not after.new or before.country == after.country:
                    continue
                hours = (after.at - before.at).total_seconds() / 3600
                needed = self.hours_between(before.country, after.country)
                if hours < needed:
                    found.append(
                        Finding(
                            rule=self.name,
                            subject_kind="user",
                            subject_key=f"user:{user_id}",
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
                    )
        return found


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
        home = set(cfg["home"])
        found: list[Finding] = []
        for user_id, events in sign_ins(cursor, ctx, int(cfg["history_days"])).items():
            seen: set[str] = set()
            for s in events:
                if s.new and s.country and s.country not in home and s.country not in seen:
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
                            summary=f"First sign-in from {s.country}",
                            counts={"country": s.country},
                        )
                    )
                seen.add(s.country)
        return found
