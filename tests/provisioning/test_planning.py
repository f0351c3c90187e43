"""The plan: joiners, movers, leavers, rejoiners, restriction, erasure, holds and reserved names.

The planner is a pure function of the MIS people and Steward's record of what it wrote, so these
tests call it directly; tests/provisioning/test_runs.py applies plans to a real directory.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from steward.provisioning.connectors.base import RemoteAccount
from steward.provisioning.naming import Name, fingerprint
from steward.provisioning.people import Person
from steward.provisioning.planning import Change, Held, Rules, TargetSettings, account_for, plan, written_form

TODAY = dt.date(2026, 9, 1)
SETTINGS = TargetSettings(
    target_id=1,
    people="both",
    year_groups=(),
    domain="school.example",
    staff_naming="{forename}.{surname}{n}@{domain}",
    learner_naming="{admission_yy}{surname}{initial}{n}@{domain}",
    staff_container="OU=Staff",
    learner_container="OU=Year {year},OU=Pupils",
    leavers_container="OU=Leavers",
    staff_groups=("All staff", "{role}"),
    learner_groups=("All pupils", "Year {year}", "{registration}"),
)
RULES = Rules(create="create rule", update="update rule", leave="leave rule", delete_after_days=30, reserve_days=365)


def pupil(sid: str = "L1", **kw: Any) -> Person:
    values: dict[str, Any] = dict(forename="Amy", surname="Khan", year="7", registration="7A", admission_year=2026)
    values.update(kw)
    return Person(person_type="learners", source_id=sid, **values)


def teacher(sid: str = "S1", **kw: Any) -> Person:
    values: dict[str, Any] = dict(forename="Jo", surname="Bloggs", role="Teacher", email="jo.bloggs@school.example")
    values.update(kw)
    return Person(person_type="staff", source_id=sid, **values)


def held_for(p: Person, name: str, *, active: bool = True, left_on: dt.date | None = None, **kw: Any) -> Held:
    account = account_for(SETTINGS, p, Name(name, name.partition("@")[0][:20]), active=active)
    return Held(
        person_type=p.person_type,
        source_id=p.source_id,
        remote_id=f"r-{p.source_id}",
        user_name=name,
        login=name.partition("@")[0][:20],
        written=written_form(account),
        active=active,
        left_on=left_on,
        **kw,
    )


def run(people: list[Person], held: list[Held], *, today: dt.date = TODAY, **kw: Any) -> list[Change]:
    return plan(
        settings=kw.pop("settings", SETTINGS),
        rules=RULES,
        people=people,
        held=held,
        today=today,
        on_hold=kw.pop("on_hold", set()),
        reserved=kw.pop("reserved", set()),
        **kw,
    )


def test_joiners_are_created_with_their_groups_and_place() -> None:
    changes = run([pupil(), teacher()], [])
    assert [(c.action, c.user_name) for c in changes] == [
        ("create", "26khana@school.example"),
        ("create", "jo.bloggs@school.example"),
    ]
    amy = changes[0].desired
    assert amy["container"] == "OU=Year 7,OU=Pupils" and amy["groups"] == ["7A", "All pupils", "Year 7"]
    assert amy["email"] == "26khana@school.example" and amy["department"] == "7"
    assert changes[1].desired["title"] == "Teacher" and changes[1].desired["email"] == "jo.bloggs@school.example"
    assert changes[0].rule == "create rule" and changes[0].reason == "On roll in Year 7."


def test_nothing_changed_plans_nothing() -> None:
    assert (
        run(
            [pupil(), teacher()],
            [held_for(pupil(), "26khana@school.example"), held_for(teacher(), "jo.bloggs@school.example")],
        )
        == []
    )


def test_movers_year_group_moves_and_role_updates() -> None:
    held = [held_for(pupil(), "26khana@school.example"), held_for(teacher(), "jo.bloggs@school.example")]
    changes = run([pupil(year="8", registration="8B"), teacher(role="Head of Year")], held)
    move, update = changes
    assert move.action == "move" and set(move.fields) == {"container", "groups", "department"}
    assert move.desired["container"] == "OU=Year 8,OU=Pupils" and "year group 7 → 8" in move.reason
    assert update.action == "update" and set(update.fields) == {"groups", "title"}
    assert "role Teacher → Head of Year" in update.reason


def test_leavers_are_disabled_on_the_day_then_deleted_after_the_period() -> None:
    left = dt.date(2026, 7, 22)
    held = [held_for(pupil(), "26khana@school.example")]
    (disable,) = run([pupil(left_on=left)], held)
    assert disable.action == "disable" and disable.reason == "Left on 22 July 2026."
    assert disable.desired["active"] is False and disable.desired["container"] == "OU=Leavers"
    assert disable.desired["groups"] == [] and disable.rule == "leave rule"
    disabled = [held_for(pupil(), "26khana@school.example", active=False, left_on=left)]
    assert run([pupil(left_on=left)], disabled, today=dt.date(2026, 8, 20)) == []
    (delete,) = run([pupil(left_on=left)], disabled, today=dt.date(2026, 8, 21))
    assert delete.action == "delete" and "30-day period ended on 21 August 2026" in delete.reason


def test_a_leaving_date_in_the_future_changes_nothing_yet() -> None:
    held = [held_for(pupil(), "26khana@school.example")]
    assert run([pupil(left_on=dt.date(2026, 9, 2))], held) == []


def test_a_legal_hold_stops_deletion() -> None:
    left = dt.date(2026, 1, 10)
    disabled = [held_for(pupil(), "26khana@school.example", active=False, left_on=left)]
    assert run([pupil(left_on=left)], disabled, on_hold={("learners", "L1")}) == []
    assert [c.action for c in run([pupil(left_on=left)], disabled)] == ["delete"]


def test_rejoiners_are_re_enabled_not_duplicated() -> None:
    disabled = [held_for(pupil(), "26khana@school.example", active=False, left_on=dt.date(2026, 7, 22))]
    (enable,) = run([pupil(year="8", registration="8B")], disabled)
    assert enable.action == "enable" and enable.user_name == "26khana@school.example"
    assert enable.desired["active"] is True and enable.desired["container"] == "OU=Year 8,OU=Pupils"


def test_restriction_suspends_and_lifting_it_re_enables() -> None:
    held = [held_for(pupil(), "26khana@school.example")]
    (suspend,) = run([pupil(restricted=True)], held)
    assert suspend.action == "disable" and "restricted" in suspend.reason
    suspended = [held_for(pupil(), "26khana@school.example", active=False, left_on=TODAY, disabled_reason="restricted")]
    assert run([pupil(restricted=True)], suspended) == []
    (lift,) = run([pupil()], suspended)
    assert lift.action == "enable" and "lifted" in lift.reason


def test_erasure_deletes_at_once() -> None:
    held = [held_for(pupil(), "26khana@school.example", erasure_requested=True)]
    (delete,) = run([], held)
    assert delete.action == "delete" and "erased" in delete.reason and "Art. 17" in delete.rule


def test_people_outside_the_target_and_gone_from_the_mis_are_disabled() -> None:
    settings = TargetSettings(**{**SETTINGS.__dict__, "year_groups": ("8", "9")})
    held = [held_for(pupil(), "26khana@school.example"), held_for(teacher(), "jo.bloggs@school.example")]
    changes = run([pupil()], held, settings=settings)
    assert [(c.action, c.person_type) for c in changes] == [("disable", "learners"), ("disable", "staff")]
    assert "year group" in changes[0].reason and changes[1].reason == "No longer in the school's MIS data."


def test_a_leavers_reserved_name_is_not_given_again() -> None:
    reserved = {fingerprint(1, "jo.bloggs@school.example"), fingerprint(1, "jo.bloggs")}
    (create,) = run([teacher(sid="S2")], [], reserved=reserved)
    assert create.user_name == "jo.bloggs2@school.example"


def test_same_names_in_one_plan_get_distinct_accounts() -> None:
    changes = run(
        [teacher(sid="S1", email=""), teacher(sid="S2", email="")],
        [held_for(teacher(sid="S9"), "jo.bloggs@school.example")],
    )
    created = [c.user_name for c in changes if c.action == "create"]
    assert created == ["jo.bloggs2@school.example", "jo.bloggs3@school.example"]


def test_first_sync_adopts_existing_accounts_by_external_id_or_email() -> None:
    remote = [
        RemoteAccount(remote_id="x1", user_name="amy.k@school.example", external_id="learner:L1"),
        RemoteAccount(remote_id="x2", user_name="jbloggs@school.example", email="jo.bloggs@school.example"),
    ]
    changes = run([pupil(), teacher()], [], remote=remote)
    assert [(c.action, c.remote_id, c.user_name) for c in changes] == [
        ("adopt", "x1", "amy.k@school.example"),
        ("adopt", "x2", "jbloggs@school.example"),
    ]


def test_only_released_fields_are_sent() -> None:
    narrow = TargetSettings(**{**SETTINGS.__dict__, "released": frozenset({"staff.forename", "staff.surname"})})
    (create,) = run([teacher()], [], settings=narrow)
    assert create.desired["email"] == "jo.bloggs@school.example" and create.desired["title"] == ""
    (wide,) = run([teacher(email="j.bloggs@staff.example")], [])
    assert wide.desired["email"] == "j.bloggs@staff.example" and wide.desired["title"] == "Teacher"


def test_external_ids_name_the_school_and_fit_the_directory() -> None:
    shared = TargetSettings(**{**SETTINGS.__dict__, "school_key": "900001"})
    assert shared.external_id("learners", "L1") == "900001:learner:L1"
    short = TargetSettings(**{**SETTINGS.__dict__, "school_key": "900001", "id_limit": 16})
    fitted = short.external_id("learners", "L1")
    assert len(fitted) == 16 and fitted.startswith("l") and fitted == short.external_id("learners", "L1")
    assert short.external_id("learners", "L2") != fitted and short.external_id("staff", "S1") == "900001:staff:S1"
