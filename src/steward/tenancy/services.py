"""Commands on organisations, contracts and people. Each validates before it writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from steward.register.models import ProcessingActivity
from steward.tenancy.models import (
    PROCESSOR_ROLES,
    SCHOOL_ROLES,
    Contract,
    Membership,
    Organisation,
    Role,
    User,
)


def school_create(
    *,
    name: str,
    urn: int,
    la_code: str,
    establishment_number: str,
    phase: str,
    trust: Organisation | None = None,
    address_line1: str = "",
    town: str = "",
    postcode: str = "",
    email: str = "",
) -> Organisation:
    if trust is not None and trust.kind != Organisation.Kind.TRUST:
        raise ValidationError({"trust": f"{trust} is not a trust"})
    school = Organisation(
        kind=Organisation.Kind.SCHOOL,
        name=name,
        urn=urn,
        la_code=la_code,
        establishment_number=establishment_number,
        phase=phase,
        trust=trust,
        address_line1=address_line1,
        town=town,
        postcode=postcode,
        email=email,
    )
    school.full_clean()
    school.save()
    return school


def contract_create(
    *,
    school: Organisation,
    processor: Organisation,
    reference: str,
    services: Iterable[str],
    start_date: dt.date,
    end_date: dt.date | None = None,
    status: str = Contract.Status.ACTIVE,
) -> Contract:
    chosen = sorted(set(services))
    unknown = set(chosen) - set(ProcessingActivity.Service.values)
    if unknown:
        raise ValidationError({"services": f"unknown services: {', '.join(sorted(unknown))}"})
    if not chosen:
        raise ValidationError({"services": "a contract covers at least one service"})
    if school.kind != Organisation.Kind.SCHOOL:
        raise ValidationError({"school": f"{school} is not a school"})
    if processor.kind != Organisation.Kind.PROCESSOR:
        raise ValidationError({"processor": f"{processor} is not the processor"})
    contract = Contract(
        school=school,
        processor=processor,
        reference=reference,
        services=chosen,
        start_date=start_date,
        end_date=end_date,
        status=status,
    )
    contract.full_clean()
    contract.save()
    return contract


def membership_grant(*, user: User, organisation: Organisation, role: str) -> Membership:
    """Give a user a role; processor roles only in the processor, school roles only in a school."""
    if role in PROCESSOR_ROLES and organisation.kind != Organisation.Kind.PROCESSOR:
        raise ValidationError({"role": f"{Role(role).label} is a role in the processor, not in {organisation}"})
    if role in SCHOOL_ROLES and organisation.kind != Organisation.Kind.SCHOOL:
        raise ValidationError({"role": f"{Role(role).label} is a role in a school, not in {organisation}"})
    membership, _ = Membership.objects.get_or_create(user=user, organisation=organisation, role=role)
    return membership


@transaction.atomic
def user_create(*, email: str, full_name: str, password: str) -> User:
    return User.objects.create_user(email=email, password=password, full_name=full_name)
