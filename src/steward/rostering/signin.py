"""Who may sign in to which app, at which school, and what the app then receives (reads only).

A staff member may sign in to an app for a school only where they hold a (not restricted)
membership AND the school has a releasing flow of the `rostering` activity to the app's recipient.
Steward users are not MIS records: the person is found in the school's MIS staff by their Steward
email address (case-insensitive, exactly one match), and the claims come from that staff record,
limited to the fields the flow releases. Learners have no Steward accounts, so only staff sign in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from steward.mis.models import ProcessingRestriction, Staff, StaffAssignment
from steward.register.labels import field_label
from steward.rostering.ids import subject_id
from steward.rostering.models import SignInApp, SignInConsent
from steward.sharing.models import DataFlow
from steward.sharing.selectors import releasing
from steward.tenancy.models import Membership, Organisation, User
from steward.tenancy.scope import tenant_scope

ACTIVITY = "rostering"

# Claim -> the flow field it is made from (the `sub` and `school_urn` are always sent).
CLAIM_FIELDS: dict[str, str] = {
    "given_name": "staff.forename",
    "family_name": "staff.surname",
    "email": "staff.email",
    "roles": "staff-assignments.role",
}
ALWAYS = {
    "sub": "A reference number that identifies you to this app only",
    "school_urn": "Your school's unique reference number (URN)",
}


class Refusal(Exception):
    """Why this person may not sign in to this app here, in words for the page."""


@dataclass(frozen=True)
class SignIn:
    """What one sign-in releases: the school, the staff record, the claims and the flows allowing them."""

    school: Organisation
    app: SignInApp
    staff: Staff
    flows: tuple[DataFlow, ...]
    claims: dict[str, object] = field(default_factory=dict)

    @property
    def claim_names(self) -> list[str]:
        return sorted(self.claims)

    def fields_of(self, record_type: str) -> list[str]:
        return sorted({f.split(".", 1)[1] for f in self.released if f.split(".", 1)[0] == record_type})

    @property
    def released(self) -> set[str]:
        return set().union(*(set(f.fields) for f in self.flows))

    @property
    def purpose(self) -> str:
        return " ".join(f.purpose for f in self.flows)


def claim_label(name: str) -> str:
    """The claim in plain words, from the register's labels of the field it is made from."""
    if name in ALWAYS:
        return ALWAYS[name]
    if name == "name":
        return "Your full name"
    record_type, _, column = CLAIM_FIELDS[name].partition(".")
    label = field_label(column)
    return f"Your {label.lower()}" + (" (from your school's staff records)" if record_type == "staff" else "")


def app_for(application: object) -> SignInApp | None:
    return SignInApp.objects.select_related("recipient", "application").filter(application=application).first()


def eligible_schools(*, user: User, app: SignInApp) -> list[Organisation]:
    """The schools where this person may use the app: a role held there and an approved flow."""
    member_of = list(
        Membership.objects.filter(user=user, restricted_at__isnull=True, organisation__kind="school")
        .values_list("organisation_id", flat=True)
        .distinct()
    )
    if not member_of:
        return []
    with tenant_scope(member_of):
        flows = DataFlow.objects.filter(
            school_id__in=member_of, recipient=app.recipient, activity__service=ACTIVITY
        ).select_related("recipient")
        allowed = {f.school_id for f in flows if releasing(f)}
    return list(Organisation.objects.filter(id__in=allowed).order_by("name"))


def sign_in_for(*, user: User, app: SignInApp, school: Organisation) -> SignIn:
    """The claims this sign-in releases, or `Refusal` saying why not. Opens the school's scope."""
    if not Membership.objects.filter(user=user, organisation=school, restricted_at__isnull=True).exists():
        raise Refusal(f"You do not hold a role at {school.name} in Steward.")
    with tenant_scope([school.id]):
        flows = tuple(
            f
            for f in DataFlow.objects.filter(
                school=school, recipient=app.recipient, activity__service=ACTIVITY
            ).select_related("recipient")
            if releasing(f)
        )
        if not flows:
            raise Refusal(f"{school.name} has not approved sharing your details with {app.name}.")
        matches = list(Staff.objects.filter(email__iexact=user.email)[:2])
        if len(matches) != 1:
            raise Refusal(
                f"{school.name}'s staff records have no single entry with your email address, {user.email}. "
                "Ask your school's office to record it in the school's management information system."
            )
        staff = matches[0]
        if ProcessingRestriction.objects.filter(record_type="staff", source_id=staff.source_id).exists():
            raise Refusal(f"{school.name} has restricted the use of your details, so none can be shared.")
        sign_in = SignIn(school=school, app=app, staff=staff, flows=flows)
        claims = _claims(sign_in)
    return SignIn(school=school, app=app, staff=staff, flows=flows, claims=claims)


def _claims(sign_in: SignIn) -> dict[str, object]:
    staff, released = sign_in.staff, sign_in.released
    school = sign_in.school
    claims: dict[str, object] = {
        "sub": subject_id(
            recipient_code=sign_in.app.recipient.code,
            school_urn=school.urn or school.id,
            kind="staff",
            source_id=staff.source_id,
        ),
        "school_urn": str(school.urn or ""),
    }
    for claim, source in CLAIM_FIELDS.items():
        if source not in released:
            continue
        if claim == "roles":
            claims[claim] = sorted(
                set(
                    StaffAssignment.objects.filter(staff_source_id=staff.source_id)
                    .filter(Q(end_date__isnull=True) | Q(end_date__gte=timezone.localdate()))
                    .values_list("role", flat=True)
                )
            )
        else:
            value = getattr(staff, source.split(".", 1)[1])
            if value:
                claims[claim] = value
    if "given_name" in claims and "family_name" in claims:
        claims["name"] = f"{claims['given_name']} {claims['family_name']}"
    return claims


def consent_in_force(*, user: User, sign_in: SignIn) -> SignInConsent | None:
    """The person's yes for this app at this school, if it covers exactly these claims."""
    with tenant_scope([sign_in.school.id]):
        latest = (
            SignInConsent.objects.filter(school=sign_in.school, user=user, app=sign_in.app)
            .order_by("-at", "-id")
            .first()
        )
    if latest is None or not latest.given or latest.withdrawn_at is not None:
        return None
    return latest if sorted(latest.claims) == sign_in.claim_names else None
