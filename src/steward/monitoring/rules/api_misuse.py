"""An API client calling, again and again, for schools or record types it has no approved flow for.

The recipient API audits each such refusal (`api_refused`, with the client, the status and what was
asked for); this rule counts them per client per hour.
"""

from __future__ import annotations

from typing import Any

from steward.monitoring.rules.base import Finding, PassContext, TallyRule, findings_from, fixed_bucket


class ApiClientMisuse(TallyRule):
    name = "api_client_misuse"
    title = "An API client asking for data it may not have"
    description = (
        "A recipient's API client was refused many times for schools or record types that no approved flow "
        "releases to it: it is misconfigured, or fishing."
    )
    processor_wide = True
    subject_kind = "client"
    where = "e.action = 'api_refused' AND e.actor_client <> ''"
    subject_sql = "'client:' || e.actor_client"

    def bucket(self) -> tuple[str, str, str]:
        return fixed_bucket(int(self.settings()["window_minutes"]) * 60)

    def evidence_match(self, kind: str) -> str:
        return "e.action = 'api_refused' AND e.actor_client = f.value"

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        return findings_from(
            self,
            cursor,
            self.over_threshold(cursor, ctx, int(cfg["refusals"])),
            lambda row: (f"{row['events']} refused API calls within {cfg['window_minutes']} minutes", {}),
        )
