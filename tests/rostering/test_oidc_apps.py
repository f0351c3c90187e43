"""Registering apps (confidential and public), and a teacher who works at two schools that use one app."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from steward.register.providers import Subject
from steward.rostering.models import SignInConsent
from steward.rostering.privacy import RosteringPrivacyProvider
from steward.tenancy.models import Role
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import membership_grant
from tests.rostering.conftest import CALLBACK, RelyingParty, World, callback_params, school_with_flow


def test_the_command_registers_an_app_and_prints_its_credentials_once(db: None) -> None:
    out = io.StringIO()
    call_command(
        "sign_in_app", "--recipient", "learning-app", "--name", "Maths app", "--redirect-uri", CALLBACK, stdout=out
    )
    printed = out.getvalue()
    assert re.search(r"client_id: \S{20,}", printed) and re.search(r"client_secret: \S{20,}", printed)
    with pytest.raises(CommandError, match="no recipient 'nobody'"):
        call_command("sign_in_app", "--recipient", "nobody", "--name", "X", "--redirect-uri", CALLBACK)


def test_a_public_app_signs_in_with_pkce_alone(world: World) -> None:
    out = io.StringIO()
    call_command(
        "sign_in_app",
        *("--recipient", "learning-app", "--name", "Maths app (phone)", "--redirect-uri", CALLBACK, "--public"),
        stdout=out,
    )
    assert "client_secret" not in out.getvalue()
    client_id = re.search(r"client_id: (\S+)", out.getvalue()).group(1)  # type: ignore[union-attr]
    rp = RelyingParty(client_id, "")
    attempt = rp.start()
    assert world.browser.get(attempt.path).status_code == 200  # its own consent: another app
    code = callback_params(world.browser.post(attempt.path, {"decision": "yes"})["Location"])["code"]
    token = rp.finish(attempt, f"{CALLBACK}?code={code}&state={attempt.state}")
    assert rp.parse_id_token(token, nonce=attempt.nonce)["given_name"] == "Ada"


def test_a_teacher_at_two_schools_chooses_one_and_the_app_sees_that_school(world: World) -> None:
    birch, _ = school_with_flow("Birch Academy", "ada@alder.invalid")
    membership_grant(user=world.teacher, organisation=birch, role=Role.SCHOOL_DPO)
    rp = world.rp()
    alder_sub = rp.parse_id_token(_sign_in_at(world, rp, world.school.name), nonce=None)["sub"]  # type: ignore[arg-type]

    rp = world.rp()
    _sign_in_at(world, rp, "Birch Academy")
    userinfo = rp.userinfo()
    assert userinfo["school_urn"] == str(birch.urn)
    assert userinfo["sub"] != alder_sub  # one id per recipient *and school*: the schools' records stay apart


def _sign_in_at(world: World, rp: RelyingParty, school_name: str) -> dict[str, object]:
    attempt = rp.start()
    choice = world.browser.get(attempt.path)
    text = choice.content.decode()
    assert choice.status_code == 200 and "Which school are you signing in to Maths learning app for?" in text
    link = re.search(rf'href="(\?[^"]+)">{re.escape(school_name)}<', text)
    assert link, text
    path = "/oauth/authorize/" + link.group(1).replace("&amp;", "&")
    page = world.browser.get(path)
    assert page.status_code == 200 and f"from {school_name}" in page.content.decode()
    code = callback_params(world.browser.post(path, {"decision": "yes"})["Location"])
    return rp.finish(attempt, f"{CALLBACK}?code={code['code']}&state={code['state']}")


def test_a_steward_users_answers_are_in_their_export_and_erased_with_them_at_that_school(world: World) -> None:
    rp = world.rp()
    attempt = rp.start()
    code = callback_params(world.browser.post(attempt.path, {"decision": "yes"})["Location"])["code"]
    rp.finish(attempt, f"{CALLBACK}?code={code}&state={attempt.state}")
    provider = RosteringPrivacyProvider()
    subject = Subject(kind="school_user", id=world.teacher.pk, school_id=world.school.id)
    with tenant_scope([world.school.id]):
        exported = provider.export_subject(subject)["rostering.SignInConsent"]
        assert [(e["app"], e["given"]) for e in exported] == [("Maths learning app", True)]
        assert provider.erase_subject(subject, dry_run=True).deleted == {"rostering.SignInConsent": 1}
        assert SignInConsent.objects.count() == 1  # a dry run deletes nothing
        provider.erase_subject(subject, dry_run=False)
        assert SignInConsent.objects.count() == 0
    assert rp.session.get(rp.server_metadata["userinfo_endpoint"]).status_code == 401
