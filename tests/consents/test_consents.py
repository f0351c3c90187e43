"""Consents to investigation copies, the back-office page, marketing preferences and the privacy provider."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.consents import services
from steward.consents.models import Consent, DataUseAgreement, MarketingPreference
from steward.consents.privacy import ConsentsPrivacyProvider
from steward.register.providers import Subject
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in

pytestmark = pytest.mark.django_db

P, V = Consent.Recipient.PROCESSOR, Consent.Recipient.MIS_VENDOR
INVESTIGATION = Consent.Purpose.INVESTIGATION


def _give(school: Organisation, user: User, **terms: Any) -> Consent:
    with tenant_scope([school.id]):
        return services.consent_give(
            school=school,
            given_by=user,
            record_types=terms.pop("record_types", ["learners"]),
            **terms,
            actor=Actor.of_user(user),
        )


def test_a_standing_consent_is_in_force_until_withdrawn(school_a: Organisation, admin_a: User) -> None:
    consent = _give(school_a, admin_a, kind="standing", recipient=P)
    assert services.consent_in_force(school_a, INVESTIGATION, P) == consent
    assert services.consent_in_force(school_a, INVESTIGATION, P, ticket="T-1") == consent
    assert services.consent_in_force(school_a, INVESTIGATION, V) is None
    with tenant_scope([school_a.id]):
        services.consent_withdraw(consent=consent, withdrawn_by=admin_a, actor=Actor.of_user(admin_a))
    assert services.consent_in_force(school_a, INVESTIGATION, P) is None


@pytest.mark.dates
def test_a_per_ticket_consent_covers_its_ticket_only_and_ends(school_a: Organisation, admin_a: User) -> None:
    soon = timezone.now() + dt.timedelta(days=7)
    consent = _give(
        school_a, admin_a, kind="per_ticket", recipient=V, vendor_name="Arbor", ticket_reference="T-9", expires_at=soon
    )
    assert services.consent_in_force(school_a, INVESTIGATION, V, ticket="T-9") == consent
    assert services.consent_in_force(school_a, INVESTIGATION, V, ticket="T-10") is None
    assert services.consent_in_force(school_a, INVESTIGATION, V) is None
    with tenant_scope([school_a.id]):
        Consent.objects.filter(pk=consent.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.consent_in_force(school_a, INVESTIGATION, V, ticket="T-9") is None


def test_another_schools_consent_never_counts(school_a: Organisation, school_b: Organisation, admin_a: User) -> None:
    _give(school_a, admin_a, kind="standing", recipient=P)
    assert services.consent_in_force(school_b, INVESTIGATION, P) is None


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"kind": "per_ticket", "recipient": P, "expires_at": None, "ticket_reference": "T-1"}, "expires_at"),
        ({"kind": "per_ticket", "recipient": P, "ticket_reference": ""}, "ticket_reference"),
        ({"kind": "standing", "recipient": V}, "vendor_name"),
        ({"kind": "standing", "recipient": P, "record_types": ["gossip"]}, "record_types"),
    ],
)
def test_incomplete_consents_are_refused(
    school_a: Organisation, admin_a: User, terms: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        _give(school_a, admin_a, **terms)
    assert field in refused.value.message_dict
    with tenant_scope([school_a.id]):
        assert not Consent.objects.exists()


@pytest.mark.dates
def test_the_page_gives_lists_and_withdraws_with_audit(client: Client, school_a: Organisation, admin_a: User) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    response = client.post(
        "/school/consents/",
        {
            "kind": "per_ticket",
            "recipient": "mis_vendor",
            "vendor_name": "Arbor",
            "ticket_reference": "T-77",
            "record_types": ["learners", "session-attendance"],
            "expires_on": str(timezone.localdate() + dt.timedelta(days=3)),
        },
    )
    assert response.status_code == 302
    with tenant_scope([school_a.id]):
        consent = Consent.objects.get()
    assert (consent.ticket_reference, consent.vendor_name, consent.given_by_id) == ("T-77", "Arbor", admin_a.id)
    assert consent.record_types == ["learners", "session-attendance"]
    page = client.get("/school/consents/")
    assert page.status_code == 200 and b"T-77" in page.content and b"In force" in page.content

    assert client.post(f"/school/consents/{consent.id}/withdraw/").status_code == 302
    with tenant_scope([school_a.id]):
        consent.refresh_from_db()
        actions = list(AuditEvent.objects.filter(object_type="consents.Consent").values_list("action", flat=True))
    assert consent.withdrawn_by_id == admin_a.id and consent.withdrawn_at is not None
    assert actions.count("consent_given") == 1 and actions.count("consent_withdrawn") == 1


def test_the_page_refuses_a_consent_without_an_end_for_one_ticket(
    client: Client, school_a: Organisation, admin_a: User
) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    response = client.post(
        "/school/consents/",
        {"kind": "per_ticket", "recipient": "processor", "ticket_reference": "T-1", "record_types": ["learners"]},
    )
    assert response.status_code == 400 and b"needs an end" in response.content
    with tenant_scope([school_a.id]):
        assert not Consent.objects.exists()


def test_another_school_cannot_withdraw_or_see_a_consent(
    client: Client, school_a: Organisation, school_b: Organisation, admin_a: User, admin_b: User
) -> None:
    consent = _give(school_a, admin_a, kind="standing", recipient=V, vendor_name="Quillsoft MIS Ltd")
    sign_in(client, admin_b)
    choose(client, school_b)
    assert client.post(f"/school/consents/{consent.id}/withdraw/").status_code == 404
    assert b"Quillsoft" not in client.get("/school/consents/").content
    with tenant_scope([school_a.id]):
        consent.refresh_from_db()
    assert consent.withdrawn_at is None


def test_people_without_a_school_role_are_kept_out(client: Client, school_a: Organisation) -> None:
    assert client.get("/school/consents/").status_code == 302  # not signed in: to the sign-in page
    support = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    sign_in(client, support)
    assert client.get("/school/consents/").status_code in (302, 403)


def test_marketing_goes_only_to_users_who_opted_in(mailoutbox: list[Any], school_a: Organisation) -> None:
    yes, no, changed, silent = (factories.user(Role.SCHOOL_ADMIN, school_a) for _ in range(4))
    services.marketing_preference_set(
        user=yes, channel="email", opted_in=True, source="account_page", actor=Actor.of_user(yes)
    )
    services.marketing_preference_set(
        user=no, channel="email", opted_in=False, source="account_page", actor=Actor.of_user(no)
    )
    services.marketing_preference_set(
        user=changed, channel="email", opted_in=True, source="account_page", actor=Actor.of_user(changed)
    )
    services.marketing_preference_set(
        user=changed, channel="email", opted_in=False, source="unsubscribe", actor=Actor.of_user(changed)
    )
    sent = services.send_marketing([yes, no, changed, silent], "Spring update", "What is new in Steward")
    assert sent == [yes]
    assert [(m.to, m.subject) for m in mailoutbox] == [([yes.email], "Spring update")]


def test_a_user_sets_their_own_preference_and_it_is_audited(
    client: Client, mailoutbox: list[Any], school_a: Organisation, admin_a: User
) -> None:
    sign_in(client, admin_a)
    assert b"we send you nothing" in client.get("/account/marketing/").content
    assert client.post("/account/marketing/", {"email": "yes"}).status_code == 302
    assert services.send_marketing([admin_a], "News", "Body") == [admin_a]
    assert client.post("/account/marketing/", {"email": "no"}).status_code == 302
    assert services.send_marketing([admin_a], "News", "Body") == []
    assert len(mailoutbox) == 1
    assert list(MarketingPreference.objects.filter(user=admin_a).order_by("id").values_list("opted_in", "source")) == [
        (True, "account_page"),
        (False, "account_page"),
    ]
    with processor_scope():  # a user's own preference names no school: the processor's events
        actions = list(
            AuditEvent.objects.filter(actor_user_id=admin_a.id, object_type="consents.MarketingPreference")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions == ["marketing_opt_in", "marketing_opt_out"]


def test_the_marketing_page_needs_a_signed_in_user(client: Client) -> None:
    response = client.post("/account/marketing/", {"email": "yes"})
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")
    assert not MarketingPreference.objects.exists()


@pytest.mark.dates
def test_privacy_provider_exports_and_erases_preferences_but_keeps_consents(
    school_a: Organisation, admin_a: User
) -> None:
    services.marketing_preference_set(
        user=admin_a, channel="email", opted_in=True, source="account_page", actor=Actor.of_user(admin_a)
    )
    _give(school_a, admin_a, kind="standing", recipient=P)
    subject = Subject("school_user", admin_a.id, school_a.id)
    provider = ConsentsPrivacyProvider()
    with tenant_scope([school_a.id]):
        exported = provider.export_subject(subject)
        assert [p["opted_in"] for p in exported["consents.MarketingPreference"]] == [True]
        assert [c["recipient"] for c in exported["consents.Consent"]] == ["processor"]
        preview = provider.erase_subject(subject, dry_run=True)
        assert MarketingPreference.objects.filter(user=admin_a).exists()
        report = provider.erase_subject(subject, dry_run=False)
        assert not MarketingPreference.objects.filter(user=admin_a).exists()
        assert Consent.objects.filter(given_by=admin_a).count() == 1
    assert preview.deleted == report.deleted == {"consents.MarketingPreference": 1}
    assert "Art. 5(2)" in report.kept["consents.Consent"]
    assert provider.export_subject(Subject("learner", admin_a.id, school_a.id)) == {}


def _agreement_post(signed_by: User, **overrides: Any) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "dua-record_types": ["learners", "session-attendance"],
        "dua-purpose": "Testing the attendance report",
        "dua-recipient": "Steward development team",
        "dua-signed_by": str(signed_by.pk),
        "dua-starts_on": str(today),
        "dua-expires_on": str(today + dt.timedelta(days=90)),
        **overrides,
    }


@pytest.mark.dates
def test_the_page_records_and_revokes_a_data_use_agreement_with_audit(
    client: Client, school_a: Organisation, admin_a: User
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school_a)
    sign_in(client, admin_a)
    choose(client, school_a)
    assert client.post("/school/consents/agreements/", _agreement_post(dpo)).status_code == 302
    with tenant_scope([school_a.id]):
        agreement = DataUseAgreement.objects.get()
        assert services.agreement_in_force(school=school_a, today=timezone.localdate()) == agreement
    assert (agreement.signed_by_id, agreement.record_types) == (dpo.id, ["learners", "session-attendance"])
    assert (agreement.purpose, agreement.recipient) == ("Testing the attendance report", "Steward development team")
    assert agreement.expires_on - agreement.starts_on == dt.timedelta(days=90) and agreement.secret_key
    page = client.get("/school/consents/")
    assert b"Testing the attendance report" in page.content and b"Revoke" in page.content

    assert client.post(f"/school/consents/agreements/{agreement.id}/revoke/").status_code == 302
    assert client.post(f"/school/consents/agreements/{agreement.id}/revoke/").status_code == 302  # no second event
    with tenant_scope([school_a.id]):
        agreement.refresh_from_db()
        assert services.agreement_in_force(school=school_a, today=timezone.localdate()) is None
        events = list(
            AuditEvent.objects.filter(object_type="consents.DataUseAgreement").values_list("action", "actor_user_id")
        )
    assert agreement.revoked_at is not None
    assert sorted(events) == [("agreement_revoked", admin_a.id), ("agreement_signed", admin_a.id)]


@pytest.mark.dates
def test_the_page_refuses_an_agreement_that_ends_before_it_starts_or_a_stranger_signing(
    client: Client, school_a: Organisation, school_b: Organisation, admin_a: User, admin_b: User
) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    today = timezone.localdate()
    backwards = _agreement_post(admin_a, **{"dua-expires_on": str(today), "dua-starts_on": str(today)})
    response = client.post("/school/consents/agreements/", backwards)
    assert response.status_code == 400 and b"must end after it starts" in response.content
    response = client.post("/school/consents/agreements/", _agreement_post(admin_b))  # not of this school
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    with tenant_scope([school_a.id]):
        assert not DataUseAgreement.objects.exists()


@pytest.mark.dates
def test_another_school_cannot_revoke_an_agreement(
    client: Client, school_a: Organisation, school_b: Organisation, admin_a: User, admin_b: User
) -> None:
    with tenant_scope([school_a.id]):
        agreement = services.agreement_sign(
            school=school_a, signed_by=admin_a, record_types=["learners"], purpose="Testing", recipient="Dev team",
            starts_on=timezone.localdate(), expires_on=timezone.localdate() + dt.timedelta(days=5),
            actor=Actor.of_user(admin_a))  # fmt: skip
    sign_in(client, admin_b)
    choose(client, school_b)
    assert client.post(f"/school/consents/agreements/{agreement.id}/revoke/").status_code == 404
    assert b"Dev team" not in client.get("/school/consents/").content
    with tenant_scope([school_a.id]):
        agreement.refresh_from_db()
    assert agreement.revoked_at is None
