"""The demo local authority: a processor, a trust, three schools, contracts and one user per role.

Loaded once (idempotent); every credential it creates is written to var/demo-credentials.json.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.core.paths import VAR_DIR
from steward.demo.synthetic import academic_year_of
from steward.register.models import ProcessingActivity
from steward.tenancy import services as tenancy
from steward.tenancy.models import DataProtectionContact, Organisation, Role, User
from steward.tenancy.scope import tenant_scope

CREDENTIALS_PATH = Path(os.environ.get("STEWARD_DEMO_CREDENTIALS", VAR_DIR / "demo-credentials.json"))
# The demo's backup key pair: its private half is kept here, owner-only, as a demo-only convenience
# (a real deployment keeps the private key off the server; see README "Backups and restore").
BACKUP_KEY_PATH = Path(os.environ.get("STEWARD_DEMO_BACKUP_KEY", VAR_DIR / "demo-backup-key.txt"))
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
PROCESSOR_NAME = "Demo County ICT Service"
EXAMS_OFFICER = "exams@secondary.demo-school.invalid"
ALL_SERVICES = list(ProcessingActivity.Service.values)


@dataclass(frozen=True)
class DemoSchool:
    key: str
    name: str
    urn: int
    establishment_number: str
    phase: str
    town: str
    postcode: str
    services: tuple[str, ...]
    in_trust: bool = False


LA_CODE = "881"
SCHOOLS = (
    DemoSchool(
        "primary",
        "Meadowbank Primary School",
        881001,
        "2001",
        Organisation.Phase.PRIMARY,
        "Chelmsford",
        "CM1 2AB",
        tuple(ALL_SERVICES),
        in_trust=True,
    ),
    DemoSchool(
        "secondary",
        "Riverside Academy",
        881002,
        "4001",
        Organisation.Phase.SECONDARY,
        "Colchester",
        "CO1 1AA",
        tuple(ALL_SERVICES),
        in_trust=True,
    ),
    DemoSchool(
        "special",
        "Oakwood Special School",
        881003,
        "7001",
        Organisation.Phase.SPECIAL,
        "Braintree",
        "CM7 3QR",
        ("hosted_mis", "data_exchange", "service_desk"),
    ),
)


def demo_loaded() -> bool:
    return Organisation.objects.filter(kind=Organisation.Kind.PROCESSOR, name=PROCESSOR_NAME).exists()


@transaction.atomic
def load_demo(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """Create the demo LA and return the credentials written to var/demo-credentials.json.

    The contracts run from the April before last school year (whose attendance the demo holds)
    to three years after this one, so they are in force on whatever day the demo is loaded."""
    year = academic_year_of(timezone.localdate())
    contract_start, contract_end = dt.date(year - 1, 4, 1), dt.date(year + 3, 3, 31)
    processor = Organisation.objects.create(
        kind=Organisation.Kind.PROCESSOR,
        name=PROCESSOR_NAME,
        town="Chelmsford",
        postcode="CM1 1QH",
        email="ict@demo-county.invalid",
    )
    trust = Organisation.objects.create(
        kind=Organisation.Kind.TRUST,
        name="Estuary Learning Trust",
        town="Colchester",
        email="office@estuary-trust.invalid",
    )
    users: list[dict[str, Any]] = []
    users.append(_user("Priya Shah", "priya.shah@demo-county.invalid", processor, Role.PROCESSOR_ADMIN))
    users.append(_user("Tom Baker", "tom.baker@demo-county.invalid", processor, Role.PROCESSOR_SUPPORT))
    schools = {}
    for spec in SCHOOLS:
        school = tenancy.school_create(
            name=spec.name,
            urn=spec.urn,
            la_code=LA_CODE,
            establishment_number=spec.establishment_number,
            phase=spec.phase,
            trust=trust if spec.in_trust else None,
            address_line1="1 School Lane",
            town=spec.town,
            postcode=spec.postcode,
            email=f"office@{spec.key}.demo-school.invalid",
        )
        schools[spec.key] = school
        tenancy.contract_create(
            school=school,
            processor=processor,
            reference=f"DCICT-{spec.urn}",
            services=spec.services,
            start_date=contract_start,
            end_date=contract_end,
        )
        admin = _user(
            f"{spec.name.split()[0]} Business Manager",
            f"admin@{spec.key}.demo-school.invalid",
            school,
            Role.SCHOOL_ADMIN,
        )
        dpo = _user(f"{spec.name.split()[0]} DPO", f"dpo@{spec.key}.demo-school.invalid", school, Role.SCHOOL_DPO)
        users += [admin, dpo]
        with tenant_scope([school.id]):
            tenancy.data_protection_contact_set(
                school=school,
                kind=DataProtectionContact.Kind.DPO,
                name=dpo["name"],
                email=dpo["email"],
                phone="01245 000000",
            )
    # The trust's DPO serves both academies: one person, two schools, a school switcher.
    trust_dpo = User.objects.get(email="dpo@primary.demo-school.invalid")
    tenancy.membership_grant(user=trust_dpo, organisation=schools["secondary"], role=Role.SCHOOL_DPO)
    for entry in users:
        if entry["email"] == trust_dpo.email:
            entry["schools"].append(schools["secondary"].name)
    credentials = {
        "base_url": base_url,
        "sign_in_url": f"{base_url}/sign-in/",
        "mis_agents": [],
        "note": "Demo only. Two-factor codes: add the TOTP secret to an authenticator app, "
        "or run `uv run steward totp EMAIL`.",
        "users": users,
    }
    _write_credentials(credentials)
    return credentials


def load_demo_mis_data() -> dict[str, Any]:
    """Send each demo school's MIS data through its agent (after the organisations are committed,
    since the agents talk to a separate server process)."""
    from steward.demo.mis import load_mis_data

    schools = [Organisation.objects.get(urn=spec.urn) for spec in SCHOOLS]
    credentials = read_credentials()
    credentials["mis_agents"] = load_mis_data(schools)
    _write_credentials(credentials)
    return credentials


def load_demo_flows() -> dict[str, Any]:
    """The recipients' flows (approved, pending, declined, blocked) and their API clients."""
    from steward.demo.flows import load_demo_flows as load

    schools = [Organisation.objects.get(urn=spec.urn) for spec in SCHOOLS]
    credentials = read_credentials()
    credentials["recipients"] = load(schools)
    _write_credentials(credentials)
    return credentials


def load_demo_portal(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """Each school's portal switches, and parents invited and registered through the real services."""
    from steward.demo.portal import load_demo_portal as load

    schools = [Organisation.objects.get(urn=spec.urn) for spec in SCHOOLS]
    admins = {
        school.id: User.objects.get(email=f"admin@{spec.key}.demo-school.invalid")
        for spec, school in zip(SCHOOLS, schools, strict=True)
    }
    credentials = read_credentials()
    credentials["parents"] = load(schools, admins, credentials.get("base_url", base_url))
    _write_credentials(credentials)
    return credentials


def load_demo_privacy(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """Rights requests, a legal hold, a consent, a data use agreement and notice versions (see privacy_ops)."""
    from steward.demo.privacy_ops import load_demo_privacy as load

    schools = [Organisation.objects.get(urn=spec.urn) for spec in SCHOOLS]
    staff = {
        f"{spec.key}-{role}": User.objects.get(email=f"{role}@{spec.key}.demo-school.invalid")
        for spec in SCHOOLS
        for role in ("admin", "dpo")
    }
    credentials = read_credentials()
    privacy = load(schools, staff, credentials["parents"]["accounts"][0]["email"])
    credentials["privacy"] = _moved(privacy, DEFAULT_BASE_URL, credentials.get("base_url", base_url))
    _write_credentials(credentials)
    return credentials


def load_demo_provisioning() -> dict[str, Any]:
    """Riverside Academy's SCIM target (the directory itself starts with each `steward demo`)."""
    from steward.demo.provisioning import SCHOOL_URN, create_target

    target = create_target(Organisation.objects.get(urn=SCHOOL_URN))
    credentials = read_credentials()
    credentials["provisioning"] = {"target_id": target.pk}
    _write_credentials(credentials)
    return credentials


def load_demo_sign_in(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """The learning app registered for staff sign-in, and a Steward account for one of Riverside's
    staff (its School Business Manager in the MIS), with a password and an authenticator."""
    from steward.demo.rostering import SCHOOL_URN, deliver_roster, register_app

    sign_in = register_app(base_url)
    sign_in["oneroster_csv"] = deliver_roster()
    staff = sign_in.pop("staff")
    school = Organisation.objects.get(urn=SCHOOL_URN)
    sign_in["user"] = _user(staff["name"], staff["email"], school, staff["role"])
    credentials = read_credentials()
    credentials["users"].append(sign_in["user"])
    credentials["sign_in_app"] = sign_in
    _write_credentials(credentials)
    return credentials


@transaction.atomic
def load_demo_monitoring() -> dict[str, Any]:
    """A few weeks of sign-ins and reading in the audit log, a detection pass over them, and two
    alerts decided (see demo/monitoring.py). Riverside Academy gains an exams officer, whose reading
    is one of the alerts; after the MIS data, since the reading names real pupils and parents."""
    from steward.demo.monitoring import load_demo_monitoring as load

    schools = [Organisation.objects.get(urn=spec.urn) for spec in SCHOOLS]
    staff = {
        f"{spec.key}-{role}": User.objects.get(email=f"{role}@{spec.key}.demo-school.invalid")
        for spec in SCHOOLS
        for role in ("admin", "dpo")
    }
    staff["processor-admin"] = User.objects.get(email="priya.shah@demo-county.invalid")
    staff["processor-support"] = User.objects.get(email="tom.baker@demo-county.invalid")
    credentials = read_credentials()
    officer = _user("Riverside Exams Officer", EXAMS_OFFICER, schools[1], Role.SCHOOL_ADMIN)
    credentials["users"].append(officer)
    credentials["monitoring"] = _moved(
        load(schools, staff, User.objects.get(email=EXAMS_OFFICER)),
        DEFAULT_BASE_URL,
        credentials.get("base_url", DEFAULT_BASE_URL),
    )
    _write_credentials(credentials)
    return credentials


def demo_backup_key() -> tuple[Path, str]:
    """The demo's age identity file (made once, owner-only, under var/) and its public key."""
    from pyrage import x25519  # type: ignore[import-untyped]

    if not BACKUP_KEY_PATH.exists():
        identity = x25519.Identity.generate()
        BACKUP_KEY_PATH.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(BACKUP_KEY_PATH, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                "# Steward demo only: the private key of the demo's backups. A real deployment never keeps\n"
                f"# this on the server (README, 'Backups and restore').\n# public key: {identity.to_public()}\n"
                f"{identity}\n"
            )
    from steward.retention.backups.crypto import identity as read_identity

    return BACKUP_KEY_PATH, str(read_identity(BACKUP_KEY_PATH).to_public())


def use_demo_backup_key() -> Path:
    """Encrypt backups (also) to the demo's key, in this process and in the server, worker and
    scheduler `steward demo` starts; and let the scheduled weekly verify read the demo's identity
    (unless the operator named one), which a real deployment leaves unset."""
    from django.conf import settings

    path, public = demo_backup_key()
    recipients = list(settings.STEWARD_BACKUP_RECIPIENTS)
    if public not in recipients:
        recipients.append(public)
    settings.STEWARD_BACKUP_RECIPIENTS = recipients
    os.environ["STEWARD_BACKUP_RECIPIENTS"] = ",".join(recipients)
    if not settings.STEWARD_BACKUP_IDENTITY_FILE:
        settings.STEWARD_BACKUP_IDENTITY_FILE = str(path)
        os.environ["STEWARD_BACKUP_IDENTITY_FILE"] = str(path)
    return path


def load_demo_backup(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """A first backup of the loaded demo, taken and verified (restored into a scratch server and
    checked) exactly as the nightly and weekly runs do, so the Backups page has a verified copy."""
    from steward.retention.backups.create import backup_create
    from steward.retention.backups.verify import backup_verify

    key = use_demo_backup_key()
    copy = backup_create()
    result = backup_verify(copy=copy, identity_path=key)
    credentials = read_credentials()
    credentials["backups"] = {
        "backup_id": copy.pk,
        "verified_ok": bool(result.get("ok")),
        "error": str(result.get("error", "")),
        "page_url": f"{credentials.get('base_url', base_url)}/processor/backups/",
        "key_file": str(key),
    }
    _write_credentials(credentials)
    return credentials


def rebase(credentials: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The credentials with every URL moved to `base_url` (the address the demo serves on now),
    written back, so that what is printed and kept is what answers: the data may have been loaded
    by a run on another address, or before `base_url` was recorded."""
    old = str(credentials.get("base_url", DEFAULT_BASE_URL))
    if old == base_url:
        return credentials
    rebased: dict[str, Any] = {**_moved(credentials, old, base_url), "base_url": base_url}
    _write_credentials(rebased)
    return rebased


def _moved(value: Any, old: str, new: str) -> Any:
    """`value` with every string that is a URL under `old` moved under `new`."""
    if isinstance(value, str) and value.startswith(old + "/"):
        return new + value[len(old) :]
    if isinstance(value, dict):
        return {key: _moved(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item, old, new) for item in value]
    return value


def _user(name: str, email: str, organisation: Organisation, role: str) -> dict[str, Any]:
    password = "demo-" + secrets.token_urlsafe(12)
    user = tenancy.user_create(email=email, full_name=name, password=password)
    tenancy.membership_grant(user=user, organisation=organisation, role=role)
    key = secrets.token_bytes(20)
    device = TOTPDevice.objects.create(user=user, name="Demo authenticator", key=key.hex(), confirmed=True)
    return {
        "name": name,
        "email": email,
        "password": password,
        "role": str(Role(role).label),
        "schools": [organisation.name] if organisation.kind == Organisation.Kind.SCHOOL else [],
        "organisation": organisation.name,
        "totp_secret": base64.b32encode(key).decode(),
        "totp_uri": device.config_url,
    }


def _write_credentials(credentials: dict[str, Any]) -> None:
    CREDENTIALS_PATH.parent.mkdir(parents=True, exist_ok=True)
    CREDENTIALS_PATH.write_text(json.dumps(credentials, indent=2))
    CREDENTIALS_PATH.chmod(0o600)


def read_credentials(path: Path | None = None) -> dict[str, Any]:
    """The credentials file (by default `CREDENTIALS_PATH` as it is when called, which tests move)."""
    return dict(json.loads((path or CREDENTIALS_PATH).read_text()))
