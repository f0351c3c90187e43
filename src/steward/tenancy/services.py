"""Commands on organisations, contracts and people. Each validates before it writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from steward.core.events import publish
from steward.register.models import ProcessingActivity
from steward.tenancy.events import DataProtectionContactChanged
from steward.tenancy.models import (
    PROCESSOR_ROLES,
    SCHOOL_ROLES,
    ApiClient,
    Contract,
    DataProtectionContact,
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


@transaction.atomic
def api_client_create(
    *, name: str, kind: str, school: Organisation | None = None, recipient_code: str = ""
) -> tuple[ApiClient, str, str]:
    """Register an OAuth 2.0 client-credentials client; returns (client, client_id, secret).

    The secret is shown once: django-oauth-toolkit stores only its hash.
    """
    from oauth2_provider.generators import generate_client_id, generate_client_secret
    from oauth2_provider.models import Application

    if kind == ApiClient.Kind.MIS_AGENT and (school is None or school.kind != Organisation.Kind.SCHOOL):
        raise ValidationError({"school": "an MIS agent writes for exactly one school"})
    client_id, secret = generate_client_id(), generate_client_secret()
    application = Application.objects.create(
        name=name,
        client_id=client_id,
        client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        hash_client_secret=True,
    )
    client = ApiClient.objects.create(application=application, kind=kind, school=school, recipient_code=recipient_code)
    return client, client_id, secret


@transaction.atomic
def data_protection_contact_set(
    *, school: Organisation, kind: str, name: str, email: str, phone: str = ""
) -> DataProtectionContact:
    """Create or replace the school's contact of this kind; its notices print the new one at once,
    and (through `DataProtectionContactChanged`) a new version of each is recorded now. Call inside
    the school's tenant scope."""
    fields = {"name": name, "email": email, "phone": phone}
    DataProtectionContact(school=school, kind=kind, **fields).full_clean(
        validate_unique=False, validate_constraints=False
    )
    contact: DataProtectionContact
    contact, _ = DataProtectionContact.objects.update_or_create(school=school, kind=kind, defaults=fields)
    publish(DataProtectionContactChanged(school_id=school.id, kind=kind))
    return contact
