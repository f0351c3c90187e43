"""Provisioning runs end to end: MIS batches in, a real SCIM server (scim2-server on loopback) out.

Joiners, movers, leavers, rejoiners, the brake, a failed target, one refused account, restriction
and erasure, each through the services a person or a batch calls, and each checked at the
directory itself, in Steward's records, in the disclosure log and in the audit log.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.demo import scim_server
from steward.mis.models import Learner
from steward.provisioning import services
from steward.provisioning.models import (
    InitialPassword,
    PlannedChange,
    ProvisionedAccount,
    ProvisioningRun,
    ProvisioningTarget,
)
from steward.rights import services as rights
from steward.rights.models import ErasureNotification
from steward.sharing.models import Disclosure
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.provisioning.conftest import (
    SCHOOL,
    TOKEN,
    approved_rostering_flow,
    groups,
    make_target,
    pupil,
    records,
    send,
    staff,
    users,
)

TODAY = dt.date(2026, 9, 1)  # a Tuesday, the first day of the school year
pytestmark = [pytest.mark.time_machine(dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC))]
ADMIN = Actor.system("Ann Admin")


def target_at(school: Organisation, server: scim_server.ScimServer, **settings: Any) -> ProvisioningTarget:
    return make_target(school, endpoint=server.url, token=TOKEN, **settings)


def sync(target: ProvisioningTarget, trigger: str = "manual") -> ProvisioningRun:
    run = services.plan_make(target=target, trigger=trigger, actor=ADMIN)
    return services.run_apply(run=run, actor=ADMIN) if run.status == ProvisioningRun.Status.PLANNED else run


def changes(run: ProvisioningRun) -> list[tuple[str, str, str]]:
    with tenant_scope([run.school_id]):
        return [(c.action, c.user_name, c.outcome) for c in PlannedChange.objects.filter(run=run).order_by("position")]


def accounts(target: ProvisioningTarget) -> dict[str, ProvisionedAccount]:
    with tenant_scope([target.school_id]):
        return {a.source_id: a for a in ProvisionedAccount.objects.filter(target=target)}


def test_first_sync_creates_everyone_and_a_quiet_night_sends_nothing(school: Organisation, directory: Any) -> None:
    server, faults = directory
    target = target_at(school, server)
    run = sync(target)
    assert run.status == ProvisioningRun.Status.SUCCEEDED, run.error
    made = users(server)
    assert sorted(made) == [
        "25smith-jonesb2@school.example",
        "25smith-jonesb@school.example",
        "26darcyz@school.example",
        "26khana@school.example",
        "jo.bloggs@school.example",
        "siobhan.oconnor-ni-bhriain@school.example",
    ]
    amy = made["26khana@school.example"]
    assert amy["externalId"] == f"{school.urn}:learner:L1" and amy["active"] is True
    assert amy["name"]["givenName"] == "Amy" and amy["displayName"] == "Amy Khan"
    # Groups: one membership change per group for the whole run.
    members = groups(server)
    assert members["Year 7"] == {amy["id"], made["26darcyz@school.example"]["id"]}
    assert len(members["All staff"]) == 2 and "Head of Year" in members
    with tenant_scope([school.id]):
        # Every account operation is a disclosure, naming whose data went to which recipient.
        logged = {d.record_type: sorted(d.subject_ids) for d in Disclosure.objects.filter(channel="provision")}
        assert logged == {"learners": ["L1", "L2", "L3", "L4"], "staff": ["S1", "S2"]}
        # New pupils' first passwords wait, sealed, for the letters; staff get none.
        assert InitialPassword.objects.count() == 4
        assert all(p.sealed.startswith("fernet:") for p in InitialPassword.objects.all())
        assert set(AuditEvent.objects.filter(school_id=school.id).values_list("action", flat=True)) >= {
            "provisioning_planned",
            "provisioning_applied",
        }
    written = len(faults.requests)
    quiet = sync(target, "nightly")
    assert quiet.status == ProvisioningRun.Status.SUCCEEDED and quiet.counts == {}
    assert [r.method for r in faults.requests[written:] if r.method != "GET"] == []


def test_movers_leavers_and_rejoiners_follow_the_batches(school: Organisation, directory: Any) -> None:
    server, _ = directory
    target = target_at(school, server)
    sync(target)
    # A batch that moves Amy to 7B and makes Jo a Head of Year runs provisioning by itself.
    send(
        school,
        records(
            {"group-enrolments": [{"source_id": "GEL1", "group_source_id": "G7B", "learner_source_id": "L1"}]},
            {
                "staff-assignments": [
                    {"source_id": "AS1", "staff_source_id": "S1", "role": "Head of Year", "start_date": "2020-09-01"}
                ]
            },
        ),
    )
    with tenant_scope([school.id]):
        latest = ProvisioningRun.objects.filter(target=target).latest("id")
    assert latest.trigger == "batch" and latest.status == ProvisioningRun.Status.SUCCEEDED
    assert latest.counts == {"update": 2}
    members = groups(server)
    amy = users(server)["26khana@school.example"]
    assert amy["id"] in members["7B"] and amy["id"] not in members["7A"]
    assert users(server)["jo.bloggs@school.example"]["title"] == "Head of Year"
    # Ben (L3) leaves yesterday: disabled today, out of his groups; deleted 30 days later.
    send(
        school,
        {
            "school-enrolments": [
                pupil("L3", "Ben", "Smith-Jones", "8", "8A", leaving_date="2026-08-31")["school-enrolments"][0]
            ]
        },
    )
    ben = users(server)["25smith-jonesb@school.example"]
    assert ben["active"] is False
    assert accounts(target)["L3"].left_on == dt.date(2026, 8, 31)
    # Ben comes back before the period ends: the same account is re-enabled, not duplicated.
    send(
        school,
        {
            "school-enrolments": [
                pupil("L3", "Ben", "Smith-Jones", "8", "8A", entry_date="2026-09-01")["school-enrolments"][0]
            ]
        },
    )
    assert users(server)["25smith-jonesb@school.example"]["active"] is True
    assert len(users(server)) == 6


def test_a_leaver_is_deleted_after_the_period_unless_held_and_the_name_is_not_reused(
    school: Organisation, directory: Any, time_machine: Any
) -> None:
    server, _ = directory
    target = target_at(school, server)
    sync(target)
    send(school, staff("S1", "Jo", "Bloggs", end_date="2026-08-31"))
    assert users(server)["jo.bloggs@school.example"]["active"] is False
    time_machine.move_to(dt.datetime(2026, 9, 29, 12, tzinfo=dt.UTC))  # 29 days after: kept
    assert sync(target, "nightly").counts == {}
    time_machine.move_to(dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC))  # 30 days after: deleted
    run = sync(target, "nightly")
    assert changes(run) == [("delete", "jo.bloggs@school.example", "done")]
    assert "jo.bloggs@school.example" not in users(server) and "S1" not in accounts(target)
    # A new Jo Bloggs joins: the leaver's name is reserved, so they get the next one.
    send(school, staff("S9", "Jo", "Bloggs"))
    assert "jo.bloggs2@school.example" in users(server) and "jo.bloggs@school.example" not in users(server)


def test_a_legal_hold_stops_the_deletion(school: Organisation, directory: Any, time_machine: Any) -> None:
    from steward.retention import services as retention

    server, _ = directory
    target = target_at(school, server)
    sync(target)
    send(school, staff("S2", "Siobhán", "O'Connor-Ní Bhriain", end_date="2026-08-31"))
    with tenant_scope([school.id]):
        retention.hold_place(
            school=school, reason="Tribunal claim", placed_by="DPO", subject_kind="staff", subject_source_id="S2"
        )
    time_machine.move_to(dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC))
    assert sync(target, "nightly").counts == {}
    assert users(server)["siobhan.oconnor-ni-bhriain@school.example"]["active"] is False


def test_the_brake_holds_a_mass_removal_until_a_school_admin_confirms(school: Organisation, directory: Any) -> None:
    server, _ = directory
    target = target_at(school, server, brake_percent=5)
    sync(target)
    # A mistaken batch marks every pupil as left: four of the six accounts would be disabled.
    leaving = [{**e, "leaving_date": "2026-08-31"} for e in SCHOOL["school-enrolments"]]
    send(school, {"school-enrolments": leaving})
    with tenant_scope([school.id]):
        held = ProvisioningRun.objects.filter(target=target).latest("id")
    assert (
        held.status == ProvisioningRun.Status.HELD
        and "4 of the 6 accounts Steward keeps in this directory (67 %)" in held.held_reason
    )
    assert all(u["active"] for u in users(server).values())
    with pytest.raises(services.RunRefused, match="held"):
        services.run_apply(run=held, actor=ADMIN)
    confirmed = services.plan_confirm(run=held, actor=ADMIN)
    done = services.run_apply(run=confirmed, actor=ADMIN)
    assert done.status == ProvisioningRun.Status.SUCCEEDED and done.confirmed_by == "Ann Admin"
    assert sorted(u["userName"] for u in users(server).values() if u["active"]) == [
        "jo.bloggs@school.example",
        "siobhan.oconnor-ni-bhriain@school.example",
    ]
    with tenant_scope([school.id]):
        assert AuditEvent.objects.filter(action="provisioning_confirmed", object_ids__contains=[str(held.pk)]).exists()


def test_a_target_that_is_down_marks_nothing_provisioned_and_is_retried(school: Organisation, directory: Any) -> None:
    server, faults = directory
    target = target_at(school, server)
    run = services.plan_make(target=target, trigger="manual", actor=ADMIN)
    faults.unavailable = 10_000
    failed = services.run_apply(run=run, actor=ADMIN)
    assert failed.status == ProvisioningRun.Status.FAILED and "503" in failed.error or "unavailable" in failed.error
    assert {c[2] for c in changes(failed)} == {"not_reached"}
    faults.unavailable = 0
    assert accounts(target) == {} and users(server) == {}
    with tenant_scope([school.id]):
        assert not Disclosure.objects.filter(channel="provision").exists()
    retried = sync(target, "retry")
    assert retried.status == ProvisioningRun.Status.SUCCEEDED and len(accounts(target)) == 6


def test_one_refused_account_is_recorded_and_the_others_go_ahead(school: Organisation, directory: Any) -> None:
    server, faults = directory
    faults.reject_user_names["26darcyz@school.example"] = "userName contains a character this directory refuses"
    target = target_at(school, server)
    run = sync(target)
    assert run.status == ProvisioningRun.Status.PARTIAL
    with tenant_scope([school.id]):
        refused = PlannedChange.objects.get(run=run, outcome="refused")
    assert refused.user_name == "26darcyz@school.example" and "refuses" in refused.detail
    assert "L2" not in accounts(target) and len(accounts(target)) == 5
    with tenant_scope([school.id]):
        assert "L2" not in {s for d in Disclosure.objects.filter(channel="provision") for s in d.subject_ids}
    faults.reject_user_names.clear()
    again = sync(target, "retry")
    assert changes(again) == [("create", "26darcyz@school.example", "done")]


def test_two_runs_for_one_target_never_overlap(school: Organisation, directory: Any) -> None:
    from django.db import connections

    server, _ = directory
    target = target_at(school, server)
    run = services.plan_make(target=target, trigger="manual", actor=ADMIN)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(7311, %s)", [target.pk])
        with pytest.raises(services.RunRefused, match="Another run"):
            services.run_apply(run=run, actor=ADMIN)
    finally:
        other.close()
    assert services.run_apply(run=run, actor=ADMIN).status == ProvisioningRun.Status.SUCCEEDED


def _rights_request(school: Organisation, kind: str, source_id: str) -> Any:
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id=source_id)
        request = rights.request_log(
            school=school,
            kind=kind,
            subject_kind="learner",
            subject_id=learner.pk,
            subject_label=learner.legal_forename,
            requested_by="A parent",
            received_on=TODAY,
            actor=ADMIN,
        )
        rights.request_mark_identity_checked(request=request, actor=ADMIN)
    return request


def test_restriction_suspends_the_accounts_and_lifting_it_restores_them(school: Organisation, directory: Any) -> None:
    server, _ = directory
    target = target_at(school, server)
    sync(target)
    request = _rights_request(school, "restriction", "L1")
    with tenant_scope([school.id]):
        rights.restriction_apply(request=request, restricted=True, actor=ADMIN)
    assert users(server)["26khana@school.example"]["active"] is False
    assert accounts(target)["L1"].disabled_reason == "restricted"
    with tenant_scope([school.id]):
        rights.restriction_apply(request=request, restricted=False, actor=ADMIN)
    assert users(server)["26khana@school.example"]["active"] is True


def test_erasure_removes_the_accounts_from_the_directory(school: Organisation, directory: Any) -> None:
    server, _ = directory
    target = target_at(school, server)
    sync(target)
    request = _rights_request(school, "erasure", "L2")
    with tenant_scope([school.id]):
        rights.erasure_execute(request=request, actor=ADMIN)
        # Art. 19: the directory's recipient is among those told, as it received the person's data.
        told = ErasureNotification.objects.get(request=request)
        assert (told.recipient.code, told.record_types) == ("microsoft-365", ["learners"])
    assert "26darcyz@school.example" not in users(server)
    assert "L2" not in accounts(target)
    with tenant_scope([school.id]):
        # The plan that deleted the accounts names nobody; nothing else of the person's is left.
        assert list(PlannedChange.objects.filter(source_id="L2").values_list("action", "person", "user_name")) == [
            ("delete", "Erased person", "")
        ]


def test_letters_show_each_password_once(school: Organisation, directory: Any) -> None:
    server, _ = directory
    target = target_at(school, server)
    sync(target)
    letters = services.letters_take(school_id=school.id, group="7A", actor=ADMIN)
    assert [(x["name"], x["user_name"]) for x in letters] == [("Amy Khan", "26khana@school.example")]
    assert len(letters[0]["password"]) >= 12
    assert services.letters_take(school_id=school.id, group="7A", actor=ADMIN) == []
    with tenant_scope([school.id]):
        assert InitialPassword.objects.count() == 3
        assert AuditEvent.objects.filter(action="provisioning_letters_printed").count() == 2


def test_a_target_whose_rules_need_fields_the_flow_does_not_release_is_refused(
    school: Organisation, directory: Any
) -> None:
    from django.core.exceptions import ValidationError

    from tests.provisioning.conftest import approved_rostering_flow

    server, _ = directory
    narrow = approved_rostering_flow(school, categories=["learner.identity", "staff.identity"])
    with tenant_scope([school.id]):
        target = ProvisioningTarget(
            school=school, flow=narrow, name="narrow", kind="scim", endpoint=server.url, domain="s.example"
        )
    with pytest.raises(ValidationError) as refused:
        services.target_save(target=target, credential=TOKEN, actor=ADMIN)
    assert "school-enrolments.year_group" in str(refused.value)
    target.people = "staff"
    target.staff_groups = "All staff"
    saved = services.target_save(target=target, credential=TOKEN, actor=ADMIN)
    with tenant_scope([school.id]):
        assert AuditEvent.objects.filter(
            action="provisioning_target_created", object_ids__contains=[str(saved.pk)]
        ).exists()


def test_a_persons_accounts_and_their_disclosures_are_in_their_access_bundle(
    school: Organisation, directory: Any
) -> None:
    server, _ = directory
    sync(target_at(school, server))
    request = _rights_request(school, "access", "L1")
    out = io.BytesIO()
    with tenant_scope([school.id]):
        rights.access_bundle(request=request, actor=ADMIN, out=out)
    held = json.loads(zipfile.ZipFile(out).read("bundle.json"))["held"]
    [account] = held["provisioning"]["provisioning.ProvisionedAccount"]
    assert (account["directory"], account["account name"], account["status"]) == (
        "Microsoft 365",
        "26khana@school.example",
        "Active",
    )
    assert account["groups"] == "7A, All pupils, Year 7"
    assert [d["channel"] for d in held["sharing"]["sharing.Disclosure"]] == ["provision"]


def test_a_discarded_plan_sends_nothing_and_cannot_be_applied_or_discarded_again(
    school: Organisation, directory: Any
) -> None:
    server, _ = directory
    target = target_at(school, server)
    run = services.plan_make(target=target, trigger="manual", actor=ADMIN)
    discarded = services.plan_discard(run=run, actor=ADMIN)
    assert (discarded.status, discarded.confirmed_by) == ("discarded", "Ann Admin")
    with pytest.raises(services.RunRefused, match="discarded"):
        services.run_apply(run=discarded, actor=ADMIN)
    with pytest.raises(services.RunRefused, match="cannot be changed now"):
        services.plan_discard(run=discarded, actor=ADMIN)
    assert users(server) == {}
    with tenant_scope([school.id]):
        assert AuditEvent.objects.filter(action="provisioning_discarded").count() == 1


def test_the_nightly_task_runs_every_target_that_is_not_paused(school: Organisation, directory: Any) -> None:
    from django.utils.module_loading import import_string

    from steward.core.schedule import SCHEDULE

    server, _ = directory
    target_at(school, server)
    target_at(school, server, name="paused", paused=True, flow=approved_rostering_flow(school, "learning-app"))
    [entry] = [e for e in SCHEDULE if e.task.startswith("steward.provisioning.")]
    assert (entry.when, entry.at) == ("daily", "05:00")
    assert import_string(entry.task).call() == 1  # the paused target is left alone
    with tenant_scope([school.id]):
        assert list(ProvisioningRun.objects.values_list("target__name", "trigger", "status")) == [
            ("entra", "nightly", "succeeded")
        ]
    assert len(users(server)) == 6


def test_a_target_with_a_bad_address_or_another_schools_flow_is_refused(school: Organisation) -> None:
    from django.core.exceptions import ValidationError

    from tests import factories

    flow = approved_rostering_flow(school)
    other = factories.school("Elm Academy", services_=("hosted_mis", "rostering"))
    others_flow = approved_rostering_flow(other)
    with tenant_scope([school.id]):
        cases = {
            "endpoint": ProvisioningTarget(school=school, flow=flow, name="x", kind="scim", endpoint="scim.example"),
            "endpoint-ad": ProvisioningTarget(
                school=school,
                flow=flow,
                name="x",
                kind="ad",
                endpoint="ldap://dc1.example",
                bind_user="s",
                base_dn="DC=x",
            ),
            "flow": ProvisioningTarget(
                school=school, flow=others_flow, name="x", kind="scim", endpoint="https://s.example/v2"
            ),
        }
    messages = {}
    for case, target in cases.items():
        target.domain = "s.example"
        with pytest.raises(ValidationError) as refused:
            services.target_save(target=target, credential=TOKEN, actor=ADMIN)
        messages[case] = refused.value.message_dict
    assert "starting https://" in messages["endpoint"]["endpoint"][0]
    assert "unencrypted" in messages["endpoint-ad"]["endpoint"][0]
    assert messages["flow"]["flow"] == ["The data flow belongs to another school."]
    with tenant_scope([school.id]):
        assert not ProvisioningTarget.objects.exists()


def test_a_whole_school_legal_hold_stops_every_deletion(
    school: Organisation, directory: Any, time_machine: Any
) -> None:
    from steward.retention import services as retention

    server, _ = directory
    target = target_at(school, server)
    sync(target)
    send(school, staff("S1", "Jo", "Bloggs", end_date="2026-08-31"))
    retention.hold_place(school=school, reason="Inspection", placed_by="DPO")
    time_machine.move_to(dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC))
    assert sync(target, "nightly").counts == {}
    assert users(server)["jo.bloggs@school.example"]["active"] is False


def test_a_private_address_needs_the_processors_approval_at_save_and_before_each_run(
    school: Organisation, directory: Any, settings: Any
) -> None:
    from django.core.exceptions import ValidationError

    from steward.provisioning.runs import RunRefused

    server, _ = directory
    settings.OUTBOUND_ALLOWED_PRIVATE = []
    # Not approved: the loopback directory is refused when the address is saved, saying who decides.
    with tenant_scope([school.id]):
        unsaved = ProvisioningTarget(
            school=school, flow=approved_rostering_flow(school), name="entra", kind="scim", endpoint=server.url
        )
    unsaved.domain = "school.example"
    with pytest.raises(ValidationError) as refused:
        services.target_save(target=unsaved, credential=TOKEN, actor=ADMIN)
    [message] = refused.value.message_dict["endpoint"]
    assert "must be an https URL (http:// only to a host approved on the private network)" in message
    assert "STEWARD_OUTBOUND_ALLOWED_PRIVATE" in message
    # Approved, saved and synced; the approval withdrawn, the next run is refused before connecting.
    settings.OUTBOUND_ALLOWED_PRIVATE = ["127.0.0.1"]
    target = target_at(school, server)
    assert sync(target).status == ProvisioningRun.Status.SUCCEEDED
    settings.OUTBOUND_ALLOWED_PRIVATE = []
    with pytest.raises(RunRefused, match="Steward will not connect to http://127.0.0.1"):
        services.plan_make(target=target, trigger="manual", actor=ADMIN)
