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

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.register.models import Recipient
from steward.rostering.models import SignInApp, SignInConsent, SignInToken
from steward.rostering.selectors import Item, SchoolAccess
from steward.rostering.signin import SignIn
from steward.sharing.models import Disclosure
from steward.sharing.selectors import Release
from steward.sharing.services import record_disclosure
from steward.tenancy.models import User
from steward.tenancy.scope import tenant_scope


def disclose_page(*, recipient_id: int, access: Sequence[SchoolAccess], items: Sequence[Item]) -> int:
    """Log the page's disclosures (call inside the tenant scope the page was read in); how many."""
    by_school = {a.school.id: a for a in access}
    grouped: dict[tuple[int, str], list[Item]] = {}
    for item in items:
        if item.school_id is not None and item.record_type is not None:
            grouped.setdefault((item.school_id, item.record_type), []).append(item)
    disclosures = []
    for (school_id, record_type), part in sorted(grouped.items()):
        release = by_school[school_id].releases[record_type]
        disclosures.append(
            Disclosure(
                school_id=school_id,
                recipient_id=recipient_id,
                flows=list(release.flow_ids),
                record_type=release.record_type,
                channel=Disclosure.Channel.API,
                record_count=len(part),
                version_from=0,
                version_to=0,
                record_ids=[i.source_id for i in part],
                subject_ids=sorted({s for i in part for s in i.subjects}),
            )
        )
    Disclosure.objects.bulk_create(disclosures)  # one statement a page, however many schools it spans
    return len(disclosures)


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
