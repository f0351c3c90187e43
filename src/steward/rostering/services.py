"""Rostering's commands, each in the transaction of what it records.

OneRoster: releasing a page and its disclosures are one transaction. A page may hold records of
several schools and MIS record types (a `users` page holds learners and staff): each (school, record
type) in it is logged as one Disclosure, naming the flows that release it, the MIS ids of the records
and the subjects. Records that are not personal data from the MIS feed (orgs, academic sessions) are
not disclosures and are not logged.

App sign-in: register an app, record a person's answer, withdraw it, release claims. Each audits
itself (DESIGN.md "Services audit; views don't"). A release (an ID token or a userinfo answer) is also
a Disclosure of the person's staff record to the app's recipient, with the staff source id as its
subject, so it appears in the person's access bundle like any other sharing.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.flow_formats import FlowFile, FlowFileRefused, FlowFileWritten
from steward.register.models import Recipient
from steward.rostering import oneroster_csv
from steward.rostering.models import SignInApp, SignInConsent, SignInToken
from steward.rostering.selectors import SERVICE, Item, Roster, SchoolAccess, school_access, school_access_for
from steward.rostering.signin import SignIn
from steward.sharing.models import DataFlow, Disclosure
from steward.sharing.selectors import Release
from steward.sharing.services import record_disclosure
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope

# The CSV binding carries sourcedIds only; the REST records it is built from still want a base for
# their (unused) hrefs.
REFERENCE_BASE = "/ims/oneroster/rostering/v1p2"


def disclose_page(*, recipient_id: int, access: Sequence[SchoolAccess], items: Sequence[Item]) -> int:
    """Log the page's disclosures (call inside the tenant scope the page was read in); how many."""
    return len(_disclose(recipient_id, access, items, Disclosure.Channel.API))


def _disclose(
    recipient_id: int, access: Sequence[SchoolAccess], items: Sequence[Item], channel: str
) -> list[Disclosure]:
    """One Disclosure per (school, MIS record type) among `items`, each MIS record named once (a
    CSV export sends a group as a class and within its course, a pupil as a user and demographics)."""
    by_school = {a.school.id: a for a in access}
    grouped: dict[tuple[int, str], list[Item]] = {}
    for item in items:
        if item.school_id is not None and item.record_type is not None:
            grouped.setdefault((item.school_id, item.record_type), []).append(item)
    disclosures = []
    for (school_id, record_type), part in sorted(grouped.items()):
        release = by_school[school_id].releases[record_type]
        record_ids = list(dict.fromkeys(i.source_id for i in part))
        disclosures.append(
            Disclosure(
                school_id=school_id,
                recipient_id=recipient_id,
                flows=list(release.flow_ids),
                record_type=release.record_type,
                channel=channel,
                record_count=len(record_ids),
                version_from=0,
                version_to=0,
                record_ids=record_ids,
                subject_ids=sorted({s for i in part for s in i.subjects}),
            )
        )
    return Disclosure.objects.bulk_create(disclosures)  # one statement, however many schools and types


class ExportRefused(Exception):
    """A OneRoster CSV export that cannot be made: `field` names the option at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class CsvExported:
    path: Path
    mode: str  # bulk or delta
    counts: dict[str, int]  # rows per file sent
    disclosures: list[Disclosure]
    watermark: dt.datetime | None  # the newest MIS modification the export covers


def oneroster_csv_export(
    *, school_urn: int, recipient_code: str, since: dt.datetime | None, out: Path, actor: Actor
) -> CsvExported:
    """Write the school's roster for the recipient as the OneRoster 1.2 CSV zip at `out` (bulk, or
    the changes after `since`), record one Disclosure per MIS record type it holds and audit it.

    Only this school, and only what its approved rostering flows to this recipient release. An
    unknown school or recipient, or no such flow, is refused before anything is read or written.
    The zip is written beside `out` under a temporary name and moved into place last, inside the
    transaction of its disclosures: a file that never lands logs nothing, and a failed log leaves
    no file.
    """
    school = Organisation.objects.filter(urn=school_urn, kind=Organisation.Kind.SCHOOL).first()
    if school is None:
        raise ExportRefused("school", f"no school has the URN {school_urn}")
    recipient = Recipient.objects.filter(code=recipient_code).first()
    if recipient is None:
        raise ExportRefused("recipient", f"no recipient {recipient_code!r} in the register")
    with tenant_scope([school.id]):
        access = school_access_for(school, recipient.code)
        if access is None:
            raise ExportRefused(
                "recipient",
                f"{school.name} (URN {school_urn}) has no approved rostering flow releasing to {recipient.code}",
            )
        exported = _export(access, recipient, since=since, out=out, actor=actor)
        assert exported is not None  # written even when a delta holds no change
        return exported


def _export(
    access: SchoolAccess,
    recipient: Recipient,
    *,
    since: dt.datetime | None,
    out: Path,
    actor: Actor,
    skip_unchanged: bool = False,
) -> CsvExported | None:
    """The export of one school's access, inside its tenant scope (the command's and a delivery's);
    None, with nothing written, for a delta without changes when `skip_unchanged`."""
    school = access.school
    roster = Roster(recipient_code=recipient.code, access=[access], base_url=REFERENCE_BASE, today=timezone.localdate())
    built = oneroster_csv.build(roster, school_id=school.id, since=since)
    if skip_unchanged and not built.rows:
        return None
    with tempfile.NamedTemporaryFile("wb", dir=out.parent, prefix=".oneroster-", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with transaction.atomic():
            with temporary.open("wb") as handle:
                oneroster_csv.write_zip(built, handle)
            disclosures = _disclose(recipient.id, [access], built.items, Disclosure.Channel.EXPORT)
            audit_action(
                actor,
                action="oneroster_csv_exported",
                school_id=school.id,
                object_type="sharing.Disclosure",
                object_ids=[d.pk for d in disclosures],
                detail={
                    "recipient": recipient.code,
                    "mode": built.mode,
                    "since": since.isoformat() if since else None,
                    "files": built.counts(),
                },
            )
            os.chmod(temporary, 0o640)  # the recipient's collector may read through its group, never others
            os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return CsvExported(out, built.mode, built.counts(), disclosures, built.watermark)


def oneroster_csv_deliver(request: FlowFile) -> FlowFileWritten:
    """Sharing's scheduled delivery of a rostering flow as the OneRoster CSV zip (registered as the
    `oneroster-csv` file format in `RosteringConfig.ready`; runs inside the school's tenant scope).

    What the flow itself releases (not other flows to the recipient: the delivery is this flow's),
    in full the first time and then as deltas after the newest MIS modification delivered. A delta
    with no change writes no file, as the other export formats do."""
    flow = DataFlow.objects.select_related("school", "recipient", "activity").filter(pk=request.flow_id).first()
    if flow is None or flow.activity.service != SERVICE:
        raise FlowFileRefused("only a rostering flow can be delivered as OneRoster CSV")
    access = school_access([flow])
    if access is None:
        raise FlowFileRefused("the flow does not release anything now")
    mode = "bulk" if request.since is None else "delta"
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    out = request.folder / f"{flow.school.urn}-oneroster-{mode}-{stamp}.zip"
    actor = Actor.system("Scheduled delivery")
    exported = _export(access, flow.recipient, since=request.since, out=out, actor=actor, skip_unchanged=True)
    if exported is None:
        return FlowFileWritten(records=0, path=None, watermark=None)
    return FlowFileWritten(records=sum(exported.counts.values()), path=exported.path, watermark=exported.watermark)


@transaction.atomic
def sign_in_app_register(
    *, recipient: Recipient, name: str, redirect_uris: list[str], confidential: bool, actor: Actor
) -> tuple[SignInApp, str, str]:
    """Register an app (authorisation code with PKCE); returns (app, client id, secret or "").

    A public client (a mobile or single-page app) gets no secret: PKCE alone binds its code.
    The secret is shown once; django-oauth-toolkit keeps only its hash.
    """
    application_model = get_application_model()
    client_id = generate_client_id()
    secret = generate_client_secret() if confidential else ""
    application = application_model.objects.create(
        name=name,
        client_id=client_id,
        client_secret=secret,
        client_type=application_model.CLIENT_CONFIDENTIAL if confidential else application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        algorithm=application_model.RS256_ALGORITHM,
        hash_client_secret=True,
    )
    application.full_clean()
    app = SignInApp.objects.create(recipient=recipient, application=application, name=name)
    audit_action(
        actor,
        action="sign_in_app_registered",
        school_id=None,
        object_type="rostering.SignInApp",
        object_ids=[app.pk],
        detail={"recipient": recipient.code, "client_id": client_id, "confidential": confidential},
    )
    return app, client_id, secret


def sign_in_consent_record(*, user: User, sign_in: SignIn, given: bool, actor: Actor) -> SignInConsent:
    """Record the person's answer on the consent screen, with the claims they were shown."""
    with tenant_scope([sign_in.school.id]):
        consent: SignInConsent = SignInConsent.objects.create(
            school=sign_in.school, user=user, app=sign_in.app, given=given, claims=sign_in.claim_names
        )
        audit_action(
            actor,
            action="sign_in_consent_given" if given else "sign_in_consent_refused",
            school_id=sign_in.school.id,
            object_type="rostering.SignInConsent",
            object_ids=[consent.pk],
            detail={"app": sign_in.app.name, "claims": sign_in.claim_names},
        )
    return consent


def sign_in_consent_withdraw(*, consent: SignInConsent, actor: Actor) -> SignInConsent:
    """Withdraw a yes: the app's tokens issued under it stop working and the next sign-in asks again."""
    with tenant_scope([consent.school_id]):
        consent.withdrawn_at = timezone.now()
        consent.save(update_fields=["withdrawn_at"])
        tokens = SignInToken.objects.filter(consent=consent).values_list("access_token_id", flat=True)
        get_access_token_model().objects.filter(id__in=list(tokens)).delete()
        audit_action(
            actor,
            action="sign_in_consent_withdrawn",
            school_id=consent.school_id,
            object_type="rostering.SignInConsent",
            object_ids=[consent.pk],
            detail={"app": consent.app.name},
        )
    return consent


def sign_in_release(*, sign_in: SignIn, channel_detail: str, actor: Actor) -> list[Disclosure]:
    """Log what an ID token or a userinfo answer gave the app: a disclosure per record type and an
    audit event. `channel_detail` says which ("id_token" or "userinfo")."""
    disclosures = []
    subject = sign_in.staff.source_id
    flow_ids = tuple(f.pk for f in sign_in.flows)
    with tenant_scope([sign_in.school.id]):
        for record_type in ("staff", "staff-assignments"):
            fields = sign_in.fields_of(record_type)
            if not fields or (record_type == "staff-assignments" and "roles" not in sign_in.claims):
                continue
            disclosure = record_disclosure(
                school_id=sign_in.school.id,
                recipient_id=sign_in.app.recipient_id,
                release=Release(record_type, tuple(fields), flow_ids),
                since=0,
                next_since=sign_in.staff.change_version,
                record_ids=[subject],
                subject_ids=[subject],
                channel=Disclosure.Channel.SIGN_IN,
            )
            if disclosure is not None:
                disclosures.append(disclosure)
        audit_action(
            actor,
            action="sign_in_claims_released",
            school_id=sign_in.school.id,
            object_type="sharing.Disclosure",
            object_ids=[d.pk for d in disclosures],
            detail={"app": sign_in.app.name, "claims": sign_in.claim_names, "via": channel_detail},
        )
    return disclosures
