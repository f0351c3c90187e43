"""Small builders for test data, through the same services the application uses."""

from __future__ import annotations

import datetime as dt
import itertools

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.tenancy import services
from steward.tenancy.models import Organisation, User

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def processor() -> Organisation:
    existing = Organisation.objects.filter(kind=Organisation.Kind.PROCESSOR).first()
    return existing or Organisation.objects.create(kind=Organisation.Kind.PROCESSOR, name="Test ICT Service")


def school(name: str = "", services_: tuple[str, ...] = ("hosted_mis", "parent_portal")) -> Organisation:
    n = next(_seq)
    created = services.school_create(
        name=name or f"Test School {n}",
        urn=900000 + n,
        la_code="999",
        establishment_number=f"{1000 + n}",
        phase=Organisation.Phase.PRIMARY,
    )
    services.contract_create(
        school=created,
        processor=processor(),
        reference=f"T-{n}",
        services=services_,
        start_date=dt.date(2026, 1, 1),
    )
    return created


def user(role: str, organisation: Organisation, *, email: str = "", with_totp: bool = True) -> User:
    n = next(_seq)
    created = services.user_create(email=email or f"user{n}@example.invalid", full_name=f"User {n}", password=PASSWORD)
    services.membership_grant(user=created, organisation=organisation, role=role)
    if with_totp:
        TOTPDevice.objects.create(user=created, name="test", confirmed=True)
    return created


def current_code(user: User, *, offset_steps: int = 0) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset_steps * device.step
    return f"{totp.token():06d}"
