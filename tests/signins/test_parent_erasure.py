"""Erasing a parent account deletes its sessions through `signins.services.forget_parent`, the one
path: the records go and so do the Django sessions, so no browser stays signed in to an account that
no longer exists. Erased at one of two schools, the account stays, and so do its sessions."""

from __future__ import annotations

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client

from steward.audit.models import AuditEvent
from steward.portal.models import ParentAccount, ParentLink
from steward.register.providers import ErasureReport, Subject, providers
from steward.signins.models import EndReason, ParentSession
from steward.tenancy.models import Organisation
from steward.tenancy.scope import processor_scope, tenant_scope
from tests.portal import families as f
from tests.signins.conftest import at, parent_browser

pytestmark = pytest.mark.django_db


def _erase(subject: Subject, *, dry_run: bool) -> dict[str, ErasureReport]:
    """Every provider, as `rights.services.erasure_execute` calls them, in the school's scope."""
    with tenant_scope([subject.school_id]):
        return {p.app_label: p.erase_subject(subject, dry_run=dry_run) for p in providers()}


def _django_session_exists(client: Client) -> bool:
    return Session.objects.filter(session_key=client.session.session_key).exists()


def test_an_erased_parents_session_records_and_django_sessions_are_gone() -> None:
    school = f.family_school("Alder Primary")
    alex = f.registered_parent(school, "C1")
    one, two = parent_browser(alex, at(0)), parent_browser(alex, at(1))
    assert ParentSession.objects.filter(parent_id=alex.pk).count() == 2
    assert _django_session_exists(one) and _django_session_exists(two)
    subject = Subject("parent_user", alex.pk, school.id)

    preview = _erase(subject, dry_run=True)
    assert preview["portal"].deleted["signins.ParentSession"] == 2
    assert "signins.ParentSession" not in preview["signins"].deleted  # one path: the portal's
    assert ParentSession.objects.filter(parent_id=alex.pk).count() == 2  # a dry run changes nothing

    _erase(subject, dry_run=False)
    with processor_scope():
        assert not ParentAccount.objects.filter(pk=alex.pk).exists()
        [event] = AuditEvent.objects.filter(action="portal_session_ended")
    assert not ParentSession.objects.filter(parent_id=alex.pk).exists()
    assert not _django_session_exists(one) and not _django_session_exists(two)
    assert event.detail["why"] == EndReason.ACCOUNT_CLOSED and event.actor_label == "erasure"
    with time_machine.travel(at(2), tick=False):
        assert one.get("/portal/").status_code == 302  # signed out


def test_a_parent_erased_at_one_of_two_schools_keeps_their_account_and_sessions(birch: Organisation) -> None:
    school = f.family_school("Alder Primary")
    alex = f.registered_parent(school, "C1")
    with tenant_scope([birch.id]):
        ParentLink.objects.create(parent=alex, school=birch, contact_source_id="C9")
    client = parent_browser(alex, at(0))

    report = _erase(Subject("parent_user", alex.pk, school.id), dry_run=False)
    assert "signins.ParentSession" not in report["portal"].deleted
    [row] = ParentSession.objects.filter(parent_id=alex.pk)
    assert row.ended_at is None and _django_session_exists(client)
