"""The authorization matrix: every URL pattern of the back office, the portal and the API, tried by
every kind of caller with a *second school's* ids, must be refused and change nothing.

The patterns are read from the URL resolver, not listed by hand, so a new page or endpoint is in
the matrix the day it is added: a pattern whose parameters the matrix cannot fill, or whose access
rule it does not know, fails the test until someone says who may use it.

"Refused" is a redirect to a sign-in or school-choice page, 401, 403, 404, 405 or 409; "changes nothing"
is a checksum of every table (except the logs that record the refusals themselves) taken before and
after the whole walk.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from steward.audit.actor import Actor
from steward.consents.models import Consent
from steward.consents.services import agreement_sign, consent_give
from steward.ingest.models import IngestBatch
from steward.monitoring.models import Alert
from steward.portal.models import ParentLink
from steward.provisioning.models import ProvisioningRun
from steward.register.models import ProcessingActivity, Recipient
from steward.retention.termination import termination_start
from steward.rights.services import request_log
from steward.rostering.ids import subject_id
from steward.servicedesk.attachments import Upload
from steward.servicedesk.copies import copy_request
from steward.servicedesk.models import Ticket, TicketAttachment
from steward.servicedesk.services import ticket_raise
from steward.servicedesk.support import grant_request
from steward.signins.models import ParentSession, StaffSession
from steward.tenancy.models import ApiClient, Contract, Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.ingest import builders
from tests.portal import families as f
from tests.provisioning.conftest import make_target
from tests.sharing.conftest import request_flow

STAFF_ROLES = ("school_admin", "school_dpo", "processor_admin", "processor_support")
CALLERS = (*STAFF_ROLES, "parent", "anonymous")
SCHOOL = frozenset({"school_admin", "school_dpo"})
PROCESSOR = frozenset({"processor_admin", "processor_support"})
STAFF = SCHOOL | PROCESSOR
PARENT = frozenset({"parent"})
SCHOOL_ADMIN = frozenset({"school_admin"})
PROCESSOR_ADMIN = frozenset({"processor_admin"})
PUBLIC = frozenset(CALLERS)

# Who may use each named page. Everyone else must be refused; an allowed caller is still refused
# wherever the URL carries the other school's ids, except the processor's own pages, whose ids
# (contracts, terminations) are every school's by design.
ACCESS: dict[str, frozenset[str]] = {
    "backoffice:home": STAFF,
    "backoffice:sign-in": PUBLIC,
    "backoffice:sign-in-verify": PUBLIC,
    "backoffice:sign-in-with": PUBLIC,  # sends the browser to a school's identity provider
    "backoffice:sign-in-with-return": PUBLIC,  # the provider's answer (state, code, signed ID token) is the credential
    "backoffice:sign-out": PUBLIC,
    "backoffice:password-forgotten": PUBLIC,
    "backoffice:password-reset": PUBLIC,  # the link's token is the credential
    "backoffice:choose-school": STAFF,
    "backoffice:search": STAFF,
    "backoffice:switch-school": STAFF,
    "backoffice:account-marketing": STAFF,
    "backoffice:account-apps": STAFF,
    "backoffice:account-sessions": STAFF,
    "backoffice:account-session-end": STAFF,  # their own sessions only: another's is 404
    "backoffice:school-staff-sessions": SCHOOL_ADMIN,
    "backoffice:school-staff-session-end": SCHOOL_ADMIN,
    "backoffice:processor-staff-sessions": PROCESSOR_ADMIN,
    "backoffice:processor-staff-session-end": PROCESSOR_ADMIN,
    "backoffice:account-app-withdraw": STAFF,
    # OpenID Connect provider: the authorisation page is a staff page; the rest are for apps.
    "oauth2_provider:authorize": STAFF,
    "oauth2_provider:token": PUBLIC,  # the client's secret or PKCE verifier is the credential
    "oauth2_provider:user-info": PUBLIC,  # the bearer token is the credential
    "oauth2_provider:oidc-connect-discovery-info": PUBLIC,
    "oauth2_provider:jwks-info": PUBLIC,
    "backoffice:school-home": SCHOOL,
    "backoffice:school-register": SCHOOL,
    "backoffice:school-people": SCHOOL,
    "backoffice:school-record": SCHOOL,
    "backoffice:school-audit": SCHOOL,
    "backoffice:school-audit-csv": SCHOOL,
    "backoffice:school-batches": SCHOOL,
    "backoffice:school-batch": SCHOOL,
    "backoffice:school-flows": SCHOOL,
    "backoffice:school-disclosures": SCHOOL,
    "backoffice:school-disclosures-csv": SCHOOL,
    "backoffice:school-flow": SCHOOL,
    "backoffice:school-flow-action": SCHOOL,
    "backoffice:school-provisioning": SCHOOL,
    "backoffice:school-provisioning-target": SCHOOL,
    "backoffice:school-provisioning-new": SCHOOL_ADMIN,
    "backoffice:school-provisioning-edit": SCHOOL_ADMIN,
    "backoffice:school-provisioning-plan": SCHOOL_ADMIN,
    "backoffice:school-provisioning-apply": SCHOOL_ADMIN,
    "backoffice:school-provisioning-discard": SCHOOL_ADMIN,
    "backoffice:school-provisioning-letters": SCHOOL_ADMIN,
    "backoffice:school-rights": SCHOOL,
    "backoffice:school-rights-request": SCHOOL,
    "backoffice:school-rights-pdf": SCHOOL,
    "backoffice:school-rights-pdf-file": SCHOOL,
    "backoffice:school-rights-history": SCHOOL,
    "backoffice:school-rights-csv": SCHOOL,
    "backoffice:school-portal": SCHOOL_ADMIN,
    "backoffice:school-parent-authenticators": frozenset({"school_admin"}),
    "backoffice:school-parent-authenticator-reset": frozenset({"school_admin"}),
    "backoffice:school-consents": SCHOOL,
    "backoffice:school-consent-withdraw": SCHOOL,
    "backoffice:school-agreement-sign": SCHOOL,
    "backoffice:school-agreement-revoke": SCHOOL,
    "backoffice:school-termination-export": SCHOOL,
    "backoffice:school-service-desk": SCHOOL,
    "backoffice:school-service-desk-new": SCHOOL,
    "backoffice:school-service-desk-ticket": SCHOOL,
    "backoffice:processor-service-desk": PROCESSOR,
    "backoffice:processor-service-desk-ticket": PROCESSOR,
    "backoffice:processor-service-desk-close": PROCESSOR,
    "backoffice:processor-service-desk-copy-new": PROCESSOR,
    "backoffice:school-service-desk-copy": SCHOOL,
    "backoffice:school-service-desk-attachment": SCHOOL,
    "backoffice:school-service-desk-attachment-quarantine": SCHOOL,
    "backoffice:school-service-desk-attachment-redact": SCHOOL,
    "backoffice:processor-service-desk-attachment": PROCESSOR,
    "backoffice:school-alerts": SCHOOL,
    "backoffice:school-alert": SCHOOL,
    "backoffice:school-alert-breach": SCHOOL,
    "backoffice:processor-alerts": PROCESSOR_ADMIN,
    "backoffice:processor-backups": PROCESSOR_ADMIN,
    "backoffice:processor-alert": PROCESSOR_ADMIN,
    "backoffice:school-support-access": SCHOOL,
    "backoffice:school-support-access-grant": SCHOOL,
    "backoffice:processor-support-access-new": PROCESSOR,
    "backoffice:processor-home": PROCESSOR,
    "backoffice:processor-schools": PROCESSOR,
    "backoffice:processor-contracts": PROCESSOR,
    "backoffice:processor-register": PROCESSOR,
    "backoffice:processor-audit": PROCESSOR_ADMIN,
    "backoffice:processor-terminations": PROCESSOR_ADMIN,
    "backoffice:termination-start": PROCESSOR_ADMIN,
    "backoffice:termination-purge": PROCESSOR_ADMIN,
    "backoffice:termination-certificate": PROCESSOR_ADMIN,
    "backoffice:processor-audit-csv": PROCESSOR_ADMIN,
    "backoffice:processor-flow-request": PROCESSOR,
    "backoffice:processor-staff": frozenset({"processor_admin"}),
    "backoffice:processor-authenticator-reset": frozenset({"processor_admin"}),
    "portal:home": PARENT,
    "portal:sign-in": PUBLIC,
    "portal:sign-in-code": PUBLIC,
    "portal:sign-out": PUBLIC,
    "portal:password-forgotten": PUBLIC,
    "portal:password-reset": PUBLIC,  # the link's token is the credential
    "portal:invitation": PUBLIC,  # the link's secret is the credential
    "portal:child": PARENT,
    "portal:child-photo": PARENT,
    "portal:child-item": PARENT,
    "portal:account": PARENT,
    "portal:two-factor": PARENT,
    "portal:correction": PARENT,
    "portal:close-account": PARENT,
    "portal:sessions": PARENT,
    "portal:session-end": PARENT,
    "portal:rights-request": PARENT,
    "portal:push-key": PARENT,
    "portal:push-subscribe": PARENT,
    "portal:cookies": PUBLIC,
    "portal:service-worker": PUBLIC,
}

# Parameters that do not name a record: filled with an ordinary value.
PLAIN_PARAMETERS = {
    "item": "attendance",
    "action": "approve",
    "service": "hosted_mis",
    "number": "1",
    "record_type": "learners",
    "key": "alder-m365",  # an identity provider's key (none is configured in the matrix's world: 404)
}
# The processor's own records, whose ids are every school's by design (contracts, terminations).
PROCESSOR_RECORDS = ("backoffice:processor-", "backoffice:termination-")

# Tables that record the walk itself (refusals are audited, sign-ins locked out, sessions kept).
LOG_TABLES = (
    "audit_",
    "axes_",
    "django_session",
    "django_tasks",
    "core_ratelimit",
    "portal_portalpageview",
    "signins_",  # each caller's own session records, and their last activity (tests/signins: no other's ends)
)

REFUSED_REDIRECTS = ("/sign-in/", "/schools/", "/portal/sign-in/")


@dataclass
class World:
    """School A (where the callers belong) and school B (whose ids they try)."""

    a: Organisation
    b: Organisation
    users: dict[str, User]
    parent_email: str
    ids: dict[str, str] = field(default_factory=dict)


def _school_with_everything(name: str, prefix: str, dpo: User | None = None) -> tuple[Organisation, dict[str, str]]:
    school = factories.school(
        name, services_=("hosted_mis", "parent_portal", "data_exchange", "rostering", "service_desk")
    )
    records = f.family_records(prefix)
    # One pupil whose MIS id only this school uses, for the person's record page.
    records["learners"].append(builders.learner(f"{prefix}ONLY", legal_forename="Only", legal_surname=f"{prefix}Here"))
    f.send(school, records, mode="full")
    owner = dpo or factories.user(Role.SCHOOL_DPO, school)
    ids: dict[str, str] = {"urn": str(school.urn), "user_id": str(owner.pk), "source_id": f"{prefix}ONLY"}
    exchange = ProcessingActivity.objects.get(service="data_exchange")
    flow = request_flow(school, Recipient.objects.get(code="la-attendance"), exchange)
    now = timezone.now()
    with tenant_scope([school.id]):
        ids["batch_id"] = str(IngestBatch.objects.filter(school=school).values_list("id", flat=True).first())
        ids["flow_id"] = str(flow.pk)
        ids["request_id"] = str(
            request_log(
                school=school,
                kind="access",
                subject_kind="learner",
                subject_id=f.learner_id(school, "L1"),
                subject_label="A learner",
                requested_by="A parent",
                received_on=timezone.localdate(),
                actor=Actor.system("DPO"),
            ).pk
        )
        ids["consent_id"] = str(
            consent_give(
                school=school,
                given_by=owner,
                kind=Consent.Kind.STANDING,
                recipient=Consent.Recipient.PROCESSOR,
                record_types=["learners"],
                actor=Actor.of_user(owner),
            ).pk
        )
        ids["agreement_id"] = str(
            agreement_sign(
                school=school,
                signed_by=owner,
                record_types=["learners"],
                purpose="Testing a new release of the MIS connector",
                recipient="ICT service development team",
                starts_on=timezone.localdate(),
                expires_on=timezone.localdate() + dt.timedelta(days=30),
                actor=Actor.of_user(owner),
            ).pk
        )
        ids["learner_id"] = str(f.learner_id(school, "L1"))
        ids["ticket_id"] = str(
            ticket_raise(
                school=school,
                raised_by=owner,
                category="mis_feed",
                urgency="normal",
                summary="Upload rejected",
                description="The nightly upload was rejected",
                actor=Actor.of_user(owner),
                attachments=[Upload(name="rows.csv", data=b"upn,name\n", size=9)],
            ).pk
        )
        ids["attachment_id"] = str(TicketAttachment.objects.get(ticket_id=ids["ticket_id"]).pk)
        # Real identities asked for: no consent approves it, so it waits (and no copy is made).
        ids["copy_id"] = str(
            copy_request(
                ticket=Ticket.objects.get(pk=ids["ticket_id"]),
                reason="Reproduce the rejection",
                record_types=["learners"],
                recipient="processor",
                identities_requested=True,
                actor=Actor.system("ICT service"),
            ).pk
        )
        # Asked for by the ICT service's staff and waiting for the school.
        ids["grant_id"] = str(
            grant_request(
                ticket=Ticket.objects.get(pk=ids["ticket_id"]),
                user=factories.user(Role.PROCESSOR_SUPPORT, factories.processor()),
                reason="See the rejected rows",
                scope=["learners"],
                actor=Actor.system("ICT service"),
            ).pk
        )
        # OneRoster ids are per recipient: this one is what the school's learning platform knows L1 by.
        ids["sourced_id"] = subject_id(
            recipient_code="microsoft-365", school_urn=school.urn or 0, kind="student", source_id="L1"
        )
        # An alert of the school resolved as an incident, so its breach page would open for its own DPO.
        ids["alert_id"] = str(
            Alert.objects.create(
                rule="bulk_reads_day",
                school=school,
                subject_kind="user",
                subject_key=f"user:{owner.pk}",
                subject_label=str(owner),
                window_start=now,
                window_end=now,
                first_at=now,
                last_at=now,
                summary="Read records worth 900 in one day",
                status="resolved_incident",
                created_at=now,
                updated_at=now,
            ).pk
        )
        target = make_target(school, endpoint="http://127.0.0.1:9/scim")
        ids["target_id"] = str(target.pk)
        ids["run_id"] = str(ProvisioningRun.objects.create(school=school, target=target, trigger="manual").pk)
    contract = Contract.objects.filter(school=school).first()
    assert contract is not None
    ids["contract_id"] = str(contract.pk)
    ids["termination_id"] = str(
        termination_start(contract=contract, requested_by="Processor", reason="Test", now=now).pk
    )
    return school, ids


@pytest.fixture
def world(committed_db: None) -> World:
    """Committed, so that the owner's checksum sees every row the requests could touch."""
    a, _ = _school_with_everything("Alder Primary", "")
    b, ids_b = _school_with_everything("Birch Academy", "B")
    processor = factories.processor()
    users = {
        "school_admin": factories.user(Role.SCHOOL_ADMIN, a),
        "school_dpo": factories.user(Role.SCHOOL_DPO, a),
        "processor_admin": factories.user(Role.PROCESSOR_ADMIN, processor),
        "processor_support": factories.user(Role.PROCESSOR_SUPPORT, processor),
    }
    parent = f.registered_parent(a, "C1")
    registered_b = f.registered_parent(b, "C1", name="Bea Birch")
    with tenant_scope([b.id]):
        link = ParentLink.objects.filter(parent=registered_b).first()
        assert link is not None
        ids_b["link_id"] = str(link.pk)
    ids_b["parent_id"] = str(registered_b.pk)
    # School B's member of staff and parent are signed in: one id for both records, so every sessions
    # page (staff and portal) is tried with a session of B's, never one of the caller's own.
    StaffSession.objects.create(pk=900001, user_id=int(ids_b["user_id"]), key_hash="b" * 64)
    ParentSession.objects.create(pk=900001, parent_id=registered_b.pk, key_hash="c" * 64)
    ids_b["session_id"] = "900001"
    return World(a=a, b=b, users=users, parent_email=parent.email, ids=ids_b)


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(route, namespaced name) of every pattern under the resolver, routes joined from their parts."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}"


def _fill(route: str, ids: dict[str, str]) -> str:
    """The route with every `<converter:name>` replaced by school B's id (or a plain value)."""
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        known = {**PLAIN_PARAMETERS, **ids, "token": "1.not-a-valid-secret", "rest": "x"}
        assert name in known, f"the matrix cannot fill <{name}> in {route!r}: add it to the world"
        return known[name]

    return "/" + re.sub(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>", value, route)


def _has_record_ids(route: str) -> bool:
    import re

    names = re.findall(r"<(?:[^>:]+:)?([^>]+)>", route)
    return any(name not in PLAIN_PARAMETERS for name in names)


def _checksum() -> dict[str, str]:
    """md5 of every table's rows (as the owner, so row-level security hides nothing)."""
    sums: dict[str, str] = {}
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [t for (t,) in cursor.fetchall() if not t.startswith(LOG_TABLES)]
        for table in tables:
            cursor.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t")
            sums[table] = cursor.fetchone()[0]
    return sums


def _client_for(caller: str, world: World) -> Client:
    client = Client()
    if caller in STAFF_ROLES:
        user = world.users[caller]
        sign_in(client, user)
        if caller in SCHOOL:
            choose(client, world.a)
    elif caller == "parent":
        f.portal_sign_in(client, world.parent_email)
    return client


def _refused(response: Any) -> bool:
    if response.status_code in (401, 403, 404, 405, 409, 410):
        return True
    if response.status_code == 302:
        return response["Location"].split("?")[0] in REFUSED_REDIRECTS
    return False


def _form_with_other_ids(ids: dict[str, str], world: World) -> dict[str, str]:
    """A POST body naming school B's records wherever a form could take an id."""
    return {
        "school": str(world.b.id),
        "subject_id": ids["learner_id"],
        "learner": ids["learner_id"],
        "contact": ids["link_id"],
        "request": ids["request_id"],
        "confirm": "yes",
        "reason": "matrix",
        "action": "approve",
    }


@pytest.mark.parametrize("caller", CALLERS)
def test_every_page_refuses_the_other_schools_ids_and_changes_nothing(caller: str, world: World) -> None:
    client = _client_for(caller, world)
    routes = [(r, name) for r, name in _patterns(get_resolver()) if not r.startswith((*API_ROUTES, "assets/"))]
    routes = [(route, name) for route, name in routes if not name.startswith(("privacy-", "oauth-"))]
    unknown = sorted(name for _, name in routes if name not in ACCESS)
    assert not unknown, f"no access rule for {unknown}: say who may use them in ACCESS"
    before = _checksum()
    let_through: list[str] = []
    tried = 0
    for route, name in routes:
        allowed = caller in ACCESS[name]
        if allowed and (not _has_record_ids(route) or name.startswith(PROCESSOR_RECORDS)):
            continue  # their own pages (or, for the processor, its own records): not this test's business
        url = _fill(route, world.ids)
        for method in ("get", "post"):
            data = _form_with_other_ids(world.ids, world) if method == "post" else None
            response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
            tried += 1
            if not _refused(response):
                let_through.append(f"{caller} {method.upper()} {url} ({name}) -> {response.status_code}")
    assert tried > 10
    assert not let_through, "\n".join(let_through)
    after = _checksum()
    changed = sorted(table for table in before if before[table] != after.get(table))
    assert not changed, f"{caller}'s refused requests changed {changed}"


def _bearer(client: Client, kind: str, world: World, scope: str) -> str:
    if kind == "agent":
        _, client_id, secret = api_client_create(name="Alder agent", kind=ApiClient.Kind.MIS_AGENT, school=world.a)
    else:
        _, client_id, secret = api_client_create(
            name="LA attendance", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
        )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


# The API's routes: Steward's own and OneRoster's (walked by the API test, not the page test).
API_ROUTES = ("api/", "ims/")
# The recipient asks for every read scope, so that a refusal is about its flows, not its token.
RECIPIENT_SCOPES = "read roster.readonly roster-demographics.readonly"

# What each API caller may legitimately do without naming another school's records.
OWN_API_CALLS = {
    ("agent", "post", "/api/v1/ingest/batches"),
    ("recipient", "get", "/api/v1/schools"),
}


@pytest.mark.parametrize("caller", ["agent", "recipient", "staff-session", "anonymous"])
def test_every_api_endpoint_refuses_the_other_schools_ids_and_changes_nothing(caller: str, world: World) -> None:
    """An agent of school A, a recipient whose flows are school A's only (B's flow is requested, not
    approved), a signed-in member of staff (the API takes tokens, not cookies) and nobody."""
    client = Client()
    headers: dict[str, str] = {}
    if caller in ("agent", "recipient"):
        token = _bearer(client, caller, world, "ingest" if caller == "agent" else RECIPIENT_SCOPES)
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    elif caller == "staff-session":
        sign_in(client, world.users["processor_admin"])
    routes = [(route, name) for route, name in _patterns(get_resolver()) if route.startswith(API_ROUTES)]
    assert len(routes) > 5
    before = _checksum()
    let_through: list[str] = []
    for route, name in routes:
        if "openapi" in route or "docs" in route or route.endswith("health"):
            continue  # public descriptions of the API, no data
        url = _fill(route, world.ids)
        for method in ("get", "post"):
            if (caller, method, url) in OWN_API_CALLS:
                continue  # the caller's own school or its own list: allowed, and not this test's business
            if method == "post":
                body = io.BytesIO(b'{"learners": []}')
                response = client.post(url, {"file": body, "format": "json", "mode": "full"}, **headers)
            else:
                response = client.get(url, **headers)
            if response.status_code < 400:
                let_through.append(f"{caller} {method.upper()} {url} ({name}) -> {response.status_code}")
    assert not let_through, "\n".join(let_through)
    after = _checksum()
    changed = sorted(table for table in before if before[table] != after.get(table))
    assert not changed, f"{caller}'s refused calls changed {changed}"
