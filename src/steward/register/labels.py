"""The one place that turns Steward's codes into the words people read.

Codes (`legal_forename`, `hosted_mis`, `learner.identity`, `mis.SessionAttendance`, `sign_in_failed`)
are how the database, the API and the audit log name things; a DPO approving a flow, a parent reading
a notice or a school reading its history should never have to decode them. Every page gets its words
from here, through the template filters in `steward.register.templatetags.labels`, so a label is
changed once and a code that has no label is found by a test rather than by a reader.

The register is the lowest layer that knows the codes: the categories, services and recipients come
from its catalogue, the field names are the register's labels for the MIS fields it classifies, and
model names are read from Django's app registry (no import of the apps that own them). Unknown codes
fall back to a humanised form ("sign_in_failed" -> "Sign in failed") rather than to the raw code.
`tests/register/test_labels.py` fails when a classified field or a personal-data model has no label,
and `tests/security/test_plain_words.py` crawls every page and fails when a code reaches one.
"""

from __future__ import annotations

import re

from django.apps import apps

from steward.register.catalogue import ACTIVITIES, CATEGORIES, RECIPIENTS, SUBJECT_TYPES

# MIS fields, by their name on a record. A field means the same on every record type that has it,
# except where `RECORD_FIELD_LABELS` says otherwise.
FIELD_LABELS: dict[str, str] = {
    "achievement_type": "Type of achievement",
    "activity_type": "Activity",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "behaviour_type": "Type of behaviour",
    "category": "Category",
    "code": "Code",
    "comment": "Comment",
    "comments": "Comments",
    "contact_source_id": "Contact",
    "contract_type": "Type of contract",
    "date": "Date",
    "date_of_birth": "Date of birth",
    "description": "Description",
    "due_date": "Due date",
    "email": "Email address",
    "email_alternative": "Other email address",
    "end_date": "End date",
    "end_time": "End time",
    "ends_at": "Ends",
    "enrolment_status": "Enrolment status",
    "entitlement_type": "Type of entitlement",
    "entry_date": "Date of entry",
    "ethnicity": "Ethnicity",
    "event_date": "Date",
    "exclusion_type": "Type of exclusion",
    "first_language": "First language",
    "forename": "First name",
    "former_upn": "Former unique pupil number",
    "fte": "Full-time equivalent",
    "gender": "Gender",
    "group_source_id": "Class or group",
    "group_type": "Type of group",
    "head_teacher": "Head teacher",
    "learner_source_id": "Pupil",
    "leaving_date": "Date of leaving",
    "legal_forename": "Legal first name",
    "legal_surname": "Legal last name",
    "lesson_date": "Date of lesson",
    "lives_with": "Lives with the pupil",
    "location": "Where",
    "mark": "Attendance mark",
    "middle_names": "Middle names",
    "minutes_late": "Minutes late",
    "name": "Name",
    "need_types": "Types of need",
    "ni_number": "National Insurance number",
    "parental_responsibility": "Has parental responsibility",
    "phone": "Phone number",
    "phone_home": "Home phone number",
    "phone_mobile": "Mobile phone number",
    "phone_work": "Work phone number",
    "photo": "Photograph",
    "points": "Points",
    "post": "Post",
    "postcode": "Postcode",
    "preferred_forename": "Preferred first name",
    "preferred_surname": "Preferred last name",
    "priority": "Contact order",
    "provision": "Provision",
    "relationship": "Relationship to the pupil",
    "religion": "Religion",
    "role": "Role",
    "session": "Session (morning or afternoon)",
    "sessions": "Sessions missed",
    "set_date": "Date set",
    "staff_source_id": "Member of staff",
    "start_date": "Start date",
    "start_time": "Start time",
    "starts_at": "Starts",
    "subject": "Subject",
    "surname": "Last name",
    "teacher_number": "Teacher reference number",
    "title": "Title",
    "town": "Town",
    "upn": "Unique pupil number",
    "website": "Website",
    "year_group": "Year group",
}

# Where a field's meaning depends on the record it is on.
RECORD_FIELD_LABELS: dict[str, str] = {
    "school-details.name": "School name",
    "homework.title": "Homework title",
    "groups.name": "Group name",
    "groups.code": "Group code",
    "behaviours.role": "Pupil's part in it",
}

# MIS record types, as the API, flows and consents name them.
RECORD_TYPE_LABELS: dict[str, str] = {
    "school-details": "School details",
    "learners": "Pupils",
    "contacts": "Parents and contacts",
    "learner-contacts": "Pupils' contacts",
    "staff": "Staff",
    "staff-assignments": "Staff roles",
    "staff-contracts": "Staff contracts",
    "groups": "Classes and groups",
    "group-enrolments": "Class and group membership",
    "school-enrolments": "School enrolment",
    "session-attendance": "Attendance",
    "lesson-attendance": "Lesson attendance",
    "exclusions": "Exclusions",
    "special-needs": "Special educational needs",
    "entitlements": "Entitlements",
    "behaviours": "Behaviour",
    "achievements": "Achievements",
    "homework": "Homework",
    "diary-events": "Diary",
}

# Models named where a plural of Django's verbose name would read oddly.
MODEL_LABELS: dict[str, str] = {
    "mis.SessionAttendance": "Attendance",
    "mis.LessonAttendance": "Lesson attendance",
    "mis.Learner": "Pupils",
    "mis.Contact": "Parents and contacts",
    "mis.LearnerContact": "Pupils' contacts",
    "mis.SchoolDetails": "School details",
    "mis.SpecialNeeds": "Special educational needs",
    "rights.RightsRequest": "Rights requests",
    "rights.RightsRequestEvent": "Rights request history",
    "sharing.DataFlow": "Data sharing flows",
    "sharing.DataFlowEvent": "Data sharing history",
    "tenancy.Organisation": "Schools",
    "tenancy.Membership": "Staff roles in Steward",
    "tenancy.User": "Steward users",
    "audit.AuditEvent": "Audit log",
    "ingest.IngestBatch": "MIS batches",
    "portal.PortalSettings": "Parent portal settings",
    "retention.ContractTermination": "Contract endings",
    "servicedesk.Ticket": "Service desk requests",
    "servicedesk.TicketMessage": "Service desk replies",
    "servicedesk.TicketEvent": "Service desk request history",
    "servicedesk.SupportGrant": "Support access grants",
    "monitoring.Alert": "Monitoring alerts",
    "monitoring.Breach": "Breach records",
    "monitoring.Tally": "Monitoring counts",
}

# Audit actions whose humanised form would not say what happened.
ACTION_LABELS: dict[str, str] = {
    "view": "Viewed",
    "logged": "Logged",
    "switch_school": "Changed school",
    "sign_in": "Signed in",
    "sign_out": "Signed out",
    "sign_in_failed": "Sign-in failed",
    "sign_in_locked_out": "Sign-in refused: account locked",
    "sign_in_address_locked": "Sign-in refused: too many attempts from one address",
    "two_factor_locked": "Two-factor check locked",
    "oauth_token_locked": "API sign-in locked",  # nosec B105: a label, not a password
    "export_ctf": "Exported a common transfer file",
    "termination_export": "Downloaded the school's data export",
    "termination_purge": "Deleted the school's data at the end of its contract",
    "retention_delete": "Deleted at the end of its retention period",
    "portal_invitations_sent": "Sent parent portal invitations",
    "portal_invitation_accepted": "Parent portal invitation accepted",
    "portal_settings_changed": "Changed what the parent portal shows",
    "flow_request_recorded": "Recorded a data sharing request",
    "pseudonymised_copy_made": "Made a pseudonymised copy",
    "pseudonymised_copy_refused": "Refused a pseudonymised copy",
    "marketing_opt_in": "Chose to receive news",
    # The service desk.
    "ticket_raise": "Asked the service desk for help",
    "ticket_triage": "Set a service desk request's category and urgency",
    "ticket_assign": "Assigned a service desk request",
    "ticket_reply": "Replied on a service desk request",
    "ticket_resolve": "Resolved a service desk request",
    "ticket_close": "Closed a service desk request",
    "ticket_reopen": "Reopened a service desk request",
    "support_access_requested": "Asked for support access to the school's data",
    "support_access_approved": "Approved support access",
    "support_access_refused": "Refused support access",
    "support_access_emergency": "Started emergency support access",
    "support_access_confirmed": "Confirmed emergency support access",
    "support_access_revoked": "Revoked support access",
    "support_access_expired": "Support access request lapsed unanswered",
    "support_access_ended": "Support access ended",
    # Monitoring.
    "api_refused": "API call refused: no approved flow",
    "alert_acknowledge": "Acknowledged a monitoring alert",
    "alert_resolve_expected": "Resolved a monitoring alert as expected behaviour",
    "alert_resolve_incident": "Resolved a monitoring alert as an incident",
    "breach_recorded": "Started a breach record",
    "breach_updated": "Updated a breach record",
    # A rights request's history.
    "identity_checked": "Identity checked",
    "objection_upheld": "Objection upheld",
    "restriction_lifted": "Restriction lifted",
    "sent_again": "Sent again",
    "reminder_sent": "Reminder sent",
}

SERVICE_LABELS: dict[str, str] = {a.service: a.name for a in ACTIVITIES}
CATEGORY_LABELS: dict[str, str] = {c.code: c.name for c in CATEGORIES}
RECIPIENT_LABELS: dict[str, str] = {r.code: r.name for r in RECIPIENTS}
SUBJECT_TYPE_LABELS: dict[str, str] = {s.code: s.name for s in SUBJECT_TYPES}

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def humanise(code: str) -> str:
    """The last resort for a code with no label: words, not underscores ("sign_in" -> "Sign in")."""
    words = _CAMEL.sub(" ", code.rsplit(".", 1)[-1]).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:].lower()


def field_label(code: str) -> str:
    """A field as `record-type.field` or a bare `field`."""
    if code in RECORD_FIELD_LABELS:
        return RECORD_FIELD_LABELS[code]
    name = code.split(".", 1)[1] if "." in code else code
    return FIELD_LABELS.get(name) or humanise(name)


def record_type_label(code: str) -> str:
    return RECORD_TYPE_LABELS.get(code) or humanise(code)


def service_label(code: str) -> str:
    return SERVICE_LABELS.get(code) or humanise(code)


def category_label(code: str) -> str:
    return CATEGORY_LABELS.get(code) or humanise(code)


def recipient_label(code: str) -> str:
    return RECIPIENT_LABELS.get(code) or humanise(code)


def model_label(label: str) -> str:
    """`app.Model` (any case) as the plural noun a reader knows ("mis.SessionAttendance" -> "Attendance")."""
    for known, words in MODEL_LABELS.items():
        if known.lower() == label.lower():
            return words
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return humanise(label)
    return str(model._meta.verbose_name_plural).capitalize()


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code) or humanise(code)


def model_codes() -> set[str]:
    """Every `app.Model` label of Steward's own apps: none may be shown on a page."""
    return {m._meta.label for m in apps.get_models() if m.__module__.startswith("steward.")}


def codes() -> set[str]:
    """Every code this map knows that cannot be mistaken for an ordinary word: the ones with an
    underscore, a dot or a hyphen, or an `app.Model` name. A page showing one of these shows a code."""
    known = (
        set(FIELD_LABELS)
        | set(RECORD_FIELD_LABELS)
        | set(RECORD_TYPE_LABELS)
        | set(SERVICE_LABELS)
        | set(CATEGORY_LABELS)
        | set(RECIPIENT_LABELS)
        | set(SUBJECT_TYPE_LABELS)
        | set(ACTION_LABELS)
    )
    return {c for c in known if re.search(r"[_.\-]", c)} | model_codes()
