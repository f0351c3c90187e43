"""The demo's privacy operations, made through the real services after the other loaders.

- A subject rights request of each type, over the three schools, each at a different point: access
  completed (the bundle built), rectification forwarded to the MIS and extended, erasure previewed but
  not executed, restriction applied, portability received with identity unchecked and overdue,
  objection refused with its grounds; and one request a demo parent made from the portal.
- A leaver whose photograph is due for deletion, sent in an MIS delta batch, under a legal hold, so
  `steward retention preview` shows it held.
- A standing consent to investigation copies, a data use agreement in force (so `steward
  pseudonymise` can be tried) and marketing preferences of two staff users.
- Every school's notices recorded (version 1 at least); one flow suspended after its notice was
  recorded, so that notice has a later version with a diff.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.consents.models import Consent, MarketingPreference
from steward.consents.services import agreement_sign, consent_give, marketing_preference_set
from steward.demo.loader import DEFAULT_BASE_URL
from steward.demo.servicedesk import load_demo_tickets
from steward.demo.synthetic import academic_year_of
from steward.ingest.services import batch_ingest
from steward.mis.models import Contact, Learner, LearnerContact
from steward.mis.names import display_name
from steward.notices.models import NoticeVersion
from steward.notices.notices import services_in_force
from steward.notices.services import notice_refresh
from steward.portal.models import ParentAccount, ParentLink
from steward.portal.rights_requests import portal_request, request_subjects
from steward.portal.selectors import parent_school_ids
from steward.retention.services import hold_place
from steward.rights import services as rights
from steward.rights.deadlines import add_months, response_deadline
from steward.rights.models import RightsRequest
from steward.sharing.models import DataFlow
from steward.sharing.services import flow_suspend
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope

# The URLs are written with the default address; `loader.rebase` moves them to the one served.
BASE_URL = DEFAULT_BASE_URL

LEAVER_SOURCE_ID = "DEMO-LEAVER-1"
# A few bytes that start and end like a JPEG: the retention rule cares that a photograph is held.
PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0demo photograph\xff\xd9").decode()
HOLD_REASON = "Insurance claim about an accident on a school trip (claim DEMO-2041): keep the pupil's records."
PSEUDONYMISE_SCHEMA = "demo_pseudonymised"


@transaction.atomic
def load_demo_privacy(schools: list[Organisation], staff: dict[str, User], parent_email: str) -> dict[str, Any]:
    """Create the privacy operations; return what goes under "privacy" in the credentials file.

    `schools` are primary, secondary and special in that order; `staff` maps "<key>-admin",
    "<key>-dpo" and "processor-admin" to users; `parent_email` is a registered demo parent's.
    """
    primary, secondary, special = schools
    today = timezone.localdate()
    _send_leaver(primary, today)
    hold = hold_place(
        school=primary,
        reason=HOLD_REASON,
        placed_by=str(staff["primary-dpo"]),
        subject_kind="learner",
        subject_source_id=LEAVER_SOURCE_ID,
    )
    requests = _rights_requests(schools, staff, today)
    portal = _portal_request(parent_email)
    _consents(primary, special, staff, today)
    _notices(schools, secondary)
    desk = load_demo_tickets(special, staff)
    return {
        "service_desk": desk,
        "rights_url": f"{BASE_URL}/school/rights/",
        "note": "Sign in as a school's admin or DPO and open Rights requests: overdue and extended requests are "
        "marked in the list; each request's page shows its history and the actions of its type.",
        "requests": requests,
        "portal_request": portal,
        "legal_hold": {"school": primary.name, "subject": LEAVER_SOURCE_ID, "reason": hold.reason},
        "retention_preview": "uv run steward retention preview",
        "pseudonymise": f"uv run steward pseudonymise --school {primary.urn} --target-schema {PSEUDONYMISE_SCHEMA}",
        "notices": [_notice_urls(school) for school in schools],
    }


def _send_leaver(school: Organisation, today: dt.date) -> None:
    """A learner who left two months ago with their photograph still held: due for deletion.
    Their dates follow the day the demo is loaded, so they are a Year 6 pupil's on any day."""
    year = academic_year_of(today - dt.timedelta(days=60))
    batch = {
        "school": {"urn": school.urn},
        "records": {
            "learners": [
                {
                    "source_id": LEAVER_SOURCE_ID,
                    "legal_forename": "Morgan",
                    "legal_surname": "Leaver",
                    "date_of_birth": dt.date(year - 10, 3, 14).isoformat(),
                    "gender": "F",
                    "ethnicity": "WBRI",
                    "first_language": "ENG",
                    "photo": PHOTO,
                }
            ],
            "school-enrolments": [
                {
                    "source_id": f"{LEAVER_SOURCE_ID}-E",
                    "learner_source_id": LEAVER_SOURCE_ID,
                    "entry_date": dt.date(year - 6, 9, 4).isoformat(),
                    "leaving_date": (today - dt.timedelta(days=60)).isoformat(),
                    "enrolment_status": "C",
                    "year_group": "6",
                }
            ],
        },
    }
    batch_ingest(
        school=school,
        stream=io.BytesIO(json.dumps(batch).encode()),
        format="json",
        mode="delta",
        sent_by="demo: a leaver sent by the MIS",
        filename="demo-leaver.json",
    )


def _rights_requests(schools: list[Organisation], staff: dict[str, User], today: dt.date) -> list[dict[str, Any]]:
    primary, secondary, special = schools
    return [
        *_primary_requests(primary, staff, today),
        *_secondary_requests(secondary, staff, today),
        *_special_requests(special, staff, today),
    ]


def _primary_requests(primary: Organisation, staff: dict[str, User], today: dt.date) -> list[dict[str, Any]]:
    """Access answered with the bundle (reviewed, then sent by post); a restriction applied."""
    made = []
    with tenant_scope([primary.id]):
        learners = _learners(primary, 2)
        actor = str(staff["primary-dpo"])
        access = _log(
            primary, "access", learners[0], today - dt.timedelta(days=12), actor, "A copy of my child's records."
        )
        rights.request_mark_identity_checked(request=access, actor=Actor.system(actor))
        rights.access_bundle(request=access, actor=Actor.system(actor), out=io.BytesIO())  # the DPO's copy
        rights.access_send(request=access, method="post", email="", actor=Actor.system(actor))
        made.append(_done(access, "bundle"))
        restriction = _log(
            primary, "restriction", learners[1], today - dt.timedelta(days=8), actor, "The address is disputed."
        )
        rights.request_mark_identity_checked(request=restriction, actor=Actor.system(actor))
        rights.restriction_apply(request=restriction, restricted=True, actor=Actor.system(actor))
        made.append(_done(restriction, "restrict"))
    return made


def _secondary_requests(secondary: Organisation, staff: dict[str, User], today: dt.date) -> list[dict[str, Any]]:
    """A parent's rectification forwarded to the MIS and extended; an objection rejected with its grounds."""
    made = []
    with tenant_scope([secondary.id]):
        actor = str(staff["secondary-admin"])
        contact = Contact.objects.filter(school=secondary).exclude(email="").order_by("source_id").first()
        if contact is None:
            raise RuntimeError(f"{secondary.name} has no contact with an email for the demo's rectification")
        rectification = rights.request_log(
            school=secondary,
            kind=RightsRequest.Kind.RECTIFICATION,
            subject_kind=RightsRequest.SubjectKind.CONTACT,
            subject_id=contact.pk,
            subject_label=f"{contact.forename} {contact.surname}",
            requested_by=f"{contact.forename} {contact.surname}",
            received_on=today - dt.timedelta(days=40),
            actor=Actor.system(actor),
            note="My mobile number is wrong: it should be 07700 900123.",
        )
        rights.request_mark_identity_checked(request=rectification, actor=Actor.system(actor))
        rights.rectification_forward(request=rectification, actor=Actor.system(actor))
        rights.request_extend(
            request=rectification,
            to=add_months(response_deadline(rectification.received_on), 1),
            reason="The MIS supplier must correct the number in the archived census returns as well.",
            actor=Actor.system(actor),
        )
        made.append(_done(rectification, "forward"))
        objector = _learners(secondary, 1)[0]
        objection = _log(
            secondary, "objection", objector, today - dt.timedelta(days=15), actor, "Stop sending data to the LA."
        )
        rights.request_mark_identity_checked(request=objection, actor=Actor.system(actor))
        rights.objection_decide(
            request=objection,
            upheld=False,
            reason="Attendance returns to the LA are a legal obligation (Education Act 1996 s.436A and the "
            "attendance regulations), which override the objection.",
            actor=Actor.system(actor),
        )
        made.append(_done(objection, "reject"))
    return made


def _special_requests(special: Organisation, staff: dict[str, User], today: dt.date) -> list[dict[str, Any]]:
    """Erasure previewed, not executed; portability received six weeks ago, identity unchecked (overdue)."""
    made = []
    with tenant_scope([special.id]):
        actor = str(staff["special-dpo"])
        erased, portable = _learners(special, 2)
        erasure = _log(special, "erasure", erased, today - dt.timedelta(days=20), actor, "Please delete my records.")
        rights.request_mark_identity_checked(request=erasure, actor=Actor.system(actor))
        rights.erasure_preview(request=erasure)  # the DPO reads what would go; nothing is erased yet
        made.append(_done(erasure, "identity"))
        portability = _log(
            special,
            "portability",
            portable,
            today - dt.timedelta(days=45),
            actor,
            "Send the records to the new school.",
        )
        made.append(_done(portability, ""))
    return made


def _learners(school: Organisation, count: int) -> list[Learner]:
    """Learners no registered demo parent is responsible for, so the portal's children are left alone."""
    parents = ParentLink.objects.filter(school=school).values("contact_source_id")
    theirs = LearnerContact.objects.filter(school=school, contact_source_id__in=parents).values("learner_source_id")
    chosen = list(
        Learner.objects.filter(school=school, photo__isnull=True)
        .exclude(source_id__in=theirs)
        .order_by("source_id")[:count]
    )
    if len(chosen) < count:
        raise RuntimeError(f"{school.name} has too few learners for the demo's requests")
    return chosen


def _log(school: Organisation, kind: str, learner: Learner, received: dt.date, actor: str, note: str) -> RightsRequest:
    name = display_name(learner)
    return rights.request_log(
        school=school,
        kind=kind,
        subject_kind=RightsRequest.SubjectKind.LEARNER,
        subject_id=learner.pk,
        subject_label=name,
        requested_by=f"Parent of {name}",
        received_on=received,
        actor=Actor.system(actor),
        note=note,
    )


def _done(request: RightsRequest, action: str) -> dict[str, Any]:
    """Describe the request for the credentials file (the rights services audited each action)."""
    request.refresh_from_db()
    return {
        "school": request.school.name,
        "kind": request.kind,
        "status": request.status,
        "due": request.due.isoformat(),
        "extended": request.extended_deadline is not None,
        "overdue": request.status in ("received", "in_progress") and request.due < timezone.localdate(),
        "url": f"{BASE_URL}/school/rights/{request.id}/",
    }


def _portal_request(parent_email: str) -> dict[str, Any]:
    parent = ParentAccount.objects.get(email=parent_email)
    school_ids = parent_school_ids(parent.pk)
    with tenant_scope(school_ids):
        child = next(c for c in request_subjects(parent) if c.subject_kind == "learner")
        logged = portal_request(
            parent=parent, kind=RightsRequest.Kind.ACCESS, about=child.value, note="Everything you hold about my child."
        )
        described = _done(logged, "")
    return {**described, "parent": parent_email}


def _consents(primary: Organisation, special: Organisation, staff: dict[str, User], today: dt.date) -> None:
    with tenant_scope([special.id]):
        consent_give(
            school=special,
            given_by=staff["special-admin"],
            kind=Consent.Kind.STANDING,
            recipient=Consent.Recipient.PROCESSOR,
            record_types=["learners", "school-enrolments", "session-attendance"],
            categories=["learner.identity", "learner.enrolment", "learner.attendance"],
            expires_at=timezone.now() + dt.timedelta(days=365),
            actor=Actor.of_user(staff["special-admin"]),
        )
    with tenant_scope([primary.id]):
        agreement_sign(
            school=primary,
            signed_by=staff["primary-dpo"],
            record_types=["learners", "school-enrolments", "session-attendance", "groups", "group-enrolments"],
            purpose="Test the attendance dashboards against realistic data without real names.",
            recipient="Demo County ICT Service development team",
            starts_on=today,
            expires_on=today + dt.timedelta(days=365),
            actor=Actor.of_user(staff["primary-dpo"]),
        )
    source = MarketingPreference.Source.ACCOUNT_PAGE
    marketing_preference_set(
        user=staff["primary-admin"],
        channel="email",
        opted_in=True,
        source=source,
        actor=Actor.of_user(staff["primary-admin"]),
    )
    marketing_preference_set(
        user=staff["secondary-admin"],
        channel="email",
        opted_in=False,
        source=source,
        actor=Actor.of_user(staff["secondary-admin"]),
    )


def _notices(schools: list[Organisation], secondary: Organisation) -> None:
    """Record every notice, then suspend one flow so its notice gains a version with a diff."""
    for school in schools:
        notice_refresh(school=school)
    with tenant_scope([secondary.id]):
        flow = DataFlow.objects.get(school=secondary, recipient__code="la-admissions")
        flow_suspend(
            flow=flow,
            actor=Actor.system("Riverside DPO (demo)"),
            note="The trust now co-ordinates in-year admissions itself.",
        )


def _notice_urls(school: Organisation) -> dict[str, Any]:
    services = []
    with tenant_scope([school.id]):
        for activity in services_in_force(school):
            latest = NoticeVersion.objects.filter(service=activity.service).order_by("-number").first()
            url = f"{BASE_URL}/privacy/{school.urn}/{activity.service}/"
            services.append(
                {
                    "service": activity.service,
                    "url": url,
                    "versions_url": f"{url}versions/",
                    "versions": latest.number if latest else 0,
                }
            )
    return {"school": school.name, "urn": school.urn, "services": services}
