"""Read-side queries about organisations, contracts and people."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Now
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.register.models import ProcessingActivity
from steward.register.selectors import all_activities
from steward.tenancy.models import (
    PROCESSOR_ROLES,
    SCHOOL_ROLES,
    Contract,
    DataProtectionContact,
    Membership,
    Organisation,
    Role,
    SupportWindow,
    User,
)


def schools_for_user(*, user: User) -> QuerySet[Organisation]:
    """Schools the user holds a school role in, to pick from in the school switcher (a membership
    restricted under Art. 18 grants nothing)."""
    return Organisation.objects.filter(
        kind=Organisation.Kind.SCHOOL,
        memberships__user=user,
        memberships__role__in=SCHOOL_ROLES,
        memberships__restricted_at__isnull=True,
    ).distinct()


def school_roles(*, user: User, school_id: int) -> set[str]:
    return set(
        Membership.objects.filter(
            user=user, organisation_id=school_id, role__in=SCHOOL_ROLES, restricted_at__isnull=True
        ).values_list("role", flat=True)
    )


def processor_roles(*, user: User) -> set[str]:
    return set(
        Membership.objects.filter(
            user=user,
            organisation__kind=Organisation.Kind.PROCESSOR,
            role__in=PROCESSOR_ROLES,
            restricted_at__isnull=True,
        ).values_list("role", flat=True)
    )


def member_elsewhere(*, user_id: int, school_id: int) -> bool:
    """Whether the user holds any membership of another organisation (then one school's erasure or
    restriction reaches only its own membership, never the whole account)."""
    return Membership.objects.filter(user_id=user_id).exclude(organisation_id=school_id).exists()


def schools_with_contracts() -> QuerySet[Organisation]:
    return (
        Organisation.objects.filter(kind=Organisation.Kind.SCHOOL)
        .select_related("trust")
        .prefetch_related("contracts")
        .order_by("name")
    )


def contracts_for_school(*, school_id: int) -> QuerySet[Contract]:
    return Contract.objects.filter(school_id=school_id).order_by("start_date")


def contracted_services(*, school_id: int) -> set[str]:
    """Services of the school's contracts that are in force (active, or ending but not ended)."""
    services: set[str] = set()
    for row in Contract.objects.filter(
        school_id=school_id, status__in=[Contract.Status.ACTIVE, Contract.Status.ENDING]
    ).values_list("services", flat=True):
        services.update(row)
    return services


def activities_for_school(*, school_id: int) -> QuerySet[ProcessingActivity]:
    """The school's own register: the activities of the services its contracts cover. Tenancy's
    knowledge (the contracts), not the register's, which describes services and knows no school."""
    return all_activities().filter(service__in=contracted_services(school_id=school_id))


def all_contracts() -> QuerySet[Contract]:
    return Contract.objects.select_related("school", "processor").order_by("school__name", "start_date")


def school_people(*, school_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(organisation_id=school_id).select_related("user").order_by("user__full_name")


def data_protection_contacts() -> QuerySet[DataProtectionContact]:
    """The current school's DPO and data lead (tenant-scoped)."""
    return DataProtectionContact.objects.order_by("kind")


def staff_accounts() -> QuerySet[User]:
    """Every active staff account with its memberships and whether it has a confirmed
    authenticator, for the processor's staff list (where a lost authenticator is reset)."""
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        User.objects.filter(is_active=True)
        .annotate(has_authenticator=Exists(confirmed))
        .prefetch_related("memberships__organisation")
        .order_by("full_name", "email")
    )


def search_schools(*, text: str, limit: int = 20) -> list[Organisation]:
    """Schools whose name or URN matches `text`: the processor's search (one statement)."""
    text = text.strip()
    if not text:
        return []
    query = Q(name__icontains=text)
    if text.isdigit() and len(text) < 10:
        query |= Q(urn=int(text))
    return list(Organisation.objects.filter(query, kind=Organisation.Kind.SCHOOL).order_by("name")[:limit])


def schools_named(*, ids: list[int]) -> dict[int, Organisation]:
    """Schools by id, in one statement (for the processor's lists of problems)."""
    return {s.id: s for s in Organisation.objects.filter(id__in=ids, kind=Organisation.Kind.SCHOOL)}


def data_protection_emails(*, school_id: int) -> list[str]:
    """Who at the school answers for its data: its administrators and DPOs (active, unrestricted
    memberships) and its data protection contacts, each address once. Inside the school's scope."""
    contacts = DataProtectionContact.objects.filter(school_id=school_id).values_list("email", flat=True)
    members = Membership.objects.filter(
        organisation_id=school_id,
        role__in=list(SCHOOL_ROLES),
        user__is_active=True,
        restricted_at__isnull=True,
    ).values_list("user__email", flat=True)
    return sorted({e.lower() for e in [*contacts, *members] if e})


def processor_admin_emails() -> list[str]:
    """The ICT service's administrators (active, unrestricted memberships), each address once: whom
    the processor's own alerts go to (monitoring's rules of no school, a failed backup)."""
    emails = Membership.objects.filter(
        role=Role.PROCESSOR_ADMIN,
        organisation__kind=Organisation.Kind.PROCESSOR,
        user__is_active=True,
        restricted_at__isnull=True,
    ).values_list("user__email", flat=True)
    return sorted({e.lower() for e in emails if e})


def live_support_window(*, user: User) -> SupportWindow | None:
    """The user's support window that is open now by the database's clock (the newest, if several)."""
    return (
        SupportWindow.objects.filter(user=user, closed_at__isnull=True, starts_at__lte=Now(), ends_at__gt=Now())
        .order_by("-starts_at")
        .first()
    )
