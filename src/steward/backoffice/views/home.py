"""A home page per role, saying what needs doing.

A school's admin or DPO: requests to share data awaiting a decision, open rights requests by deadline,
and alerts (MIS batches rejected this week, deliveries to recipients that are failing). The processor's
staff: the schools with problems (rejected batches, failing deliveries), counted across the estate
with no school's data shown. Each list is one statement, so the page costs the same for any school.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.http import StewardRequest
from steward.ingest import selectors as ingest_selectors
from steward.retention import selectors as retention_selectors
from steward.rights import selectors as rights_selectors
from steward.sharing import selectors as sharing_selectors
from steward.tenancy import selectors as tenancy_selectors
from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES

ALERT_DAYS = 7


@school_role_required(*SCHOOL_ROLES)
def school_home(request: StewardRequest) -> HttpResponse:
    today = timezone.localdate()
    since = timezone.now() - dt.timedelta(days=ALERT_DAYS)
    requests = rights_selectors.requests_by_deadline(limit=20)
    context = {
        "today": today,
        "flows": sharing_selectors.flows_awaiting_decision(),
        "requests": [(r, r.extended_deadline or r.deadline) for r in requests],
        "rejected": ingest_selectors.rejected_batches_since(since=since),
        "failing": sharing_selectors.failing_flows(),
        "alert_days": ALERT_DAYS,
        "ending": retention_selectors.open_termination_for_school(school_id=chosen_school(request)),
    }
    return render(request, "backoffice/school_home.html", context)


@processor_role_required(*PROCESSOR_ROLES)
def processor_home(request: StewardRequest) -> HttpResponse:
    since = timezone.now() - dt.timedelta(days=ALERT_DAYS)
    rejected = ingest_selectors.rejected_batches_by_school(since=since)
    failing = sharing_selectors.failing_deliveries_by_school()
    schools = tenancy_selectors.schools_named(ids=[p.school_id for p in rejected] + [p.school_id for p in failing])
    problems: dict[int, dict[str, object]] = {}
    for batch_problem in rejected:
        row = problems.setdefault(batch_problem.school_id, {"school": schools.get(batch_problem.school_id)})
        row["rejected"] = batch_problem.rejected
    for delivery_problem in failing:
        row = problems.setdefault(delivery_problem.school_id, {"school": schools.get(delivery_problem.school_id)})
        row["failing"] = delivery_problem.failing_flows
    rows = sorted((r for r in problems.values() if r["school"] is not None), key=lambda r: str(r["school"]))
    return render(request, "backoffice/processor_home.html", {"problems": rows, "alert_days": ALERT_DAYS})
