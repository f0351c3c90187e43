"""Every rule's thresholds, with their defaults; `settings.STEWARD_MONITORING` overrides any of them.

Defaults are set for a local authority's schools: staff sign in from the UK during the school day,
read tens of records an hour, and export a few times a week. A deployment that finds a rule too
noisy raises one number here rather than editing the rule.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, dict[str, Any]] = {
    # Many failed sign-ins against one account in a window (django-axes locks; this alerts).
    "brute_force": {"failures": 10, "window_minutes": 15},
    # Failures across many accounts from one address or network (/24 for IPv4, /64 for IPv6).
    "password_spraying": {"accounts": 10, "window_minutes": 60},
    # Two successful sign-ins of one person from two countries in less time than travel takes.
    "impossible_travel": {
        "default_hours": 4.0,
        # Hours between neighbours (either order); any other pair of countries takes default_hours.
        "pair_hours": {"GB-IE": 1.5, "GB-FR": 1.5, "GB-BE": 2.0, "GB-NL": 2.0, "FR-BE": 1.0},
        "history_days": 90,
    },
    # A person's first sign-in from a country outside the UK in history_days.
    "new_country": {"home": ["GB"], "history_days": 90},
    # Weighted records read per person or client and school, against their own baseline.
    "bulk_reads": {
        "factor": 5.0,
        "baseline_days": 14,
        "day_floor": 400,
        "hour_floor": 150,
        "weight_default": 1,
        "weight_special": 5,
        "weight_safeguarding": 3,
        # MIS record types about safeguarding, weighted above the ordinary.
        "safeguarding_types": ["mis.Exclusion", "mis.Behaviour"],
    },
    # Exports and access bundles downloaded above a person's usual number in a day.
    "exports": {
        "factor": 3.0,
        "baseline_days": 28,
        "floor": 4,
        "actions": [
            "export_csv",
            "export_ctf",
            "termination_export",
            "oneroster_csv_exported",
            "rights_request_bundle",
        ],
    },
    # Staff activity on a school's data at night or at weekends (Europe/London) above the school's norm.
    "odd_hours": {"factor": 3.0, "baseline_days": 28, "floor": 30, "night_starts": 22, "night_ends": 6},
    # An API client's refused calls (schools or record types it has no approved flow for).
    "api_client_misuse": {"refusals": 20, "window_minutes": 60},
    # Evidence kept on an alert: the first event ids, then counts only.
    "evidence_cap": {"ids": 50},
}


def rule_settings(rule: str) -> dict[str, Any]:
    """The rule's thresholds: the defaults with whatever the deployment set on top."""
    overrides: dict[str, dict[str, Any]] = getattr(settings, "STEWARD_MONITORING", {}) or {}
    return {**DEFAULTS[rule], **overrides.get(rule, {})}


def evidence_cap() -> int:
    return int(rule_settings("evidence_cap")["ids"])
