"""The rules. Each is a small module with a name, a plain description and its thresholds in
`monitoring.config`; `RULES` is the order a detection pass runs them in."""

from __future__ import annotations

from steward.monitoring.rules.api_misuse import ApiClientMisuse
from steward.monitoring.rules.base import Finding, Rule
from steward.monitoring.rules.baseline import BulkReads, Exports, OddHours
from steward.monitoring.rules.sign_in import BruteForce, PasswordSpraying
from steward.monitoring.rules.travel import ImpossibleTravel, NewCountry

RULES: tuple[Rule, ...] = (
    BruteForce(),
    PasswordSpraying(),
    ApiClientMisuse(),
    BulkReads("hour"),
    BulkReads("day"),
    Exports(),
    OddHours(),
    ImpossibleTravel(),
    NewCountry(),
)

RULE_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}

__all__ = ["RULES", "RULE_BY_NAME", "Finding", "Rule"]
