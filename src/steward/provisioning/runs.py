"""Provisioning runs: make a plan, hold it when it removes too much, apply it account by account.

Applying keeps one promise above all: nothing is recorded as provisioned that was not. Each change
is sent, then its outcome, Steward's record of the account and the disclosure are committed
together, a hundred changes at a time; a directory that refuses one account costs that account
only, and one that goes away stops the run, leaves the rest "not reached" and is retried later.
Two runs for one target never overlap: applying takes a PostgreSQL advisory lock on the target.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from steward.core.sealed import seal
from steward.provisioning import people as mis_people
from steward.provisioning.connectors.base import Account, AccountRefused, Connector, TargetUnavailable
from steward.provisioning.models import (
    InitialPassword,
    PlannedChange,
    ProvisionedAccount,
    ProvisioningRun,
    ProvisioningTarget,
    ReservedName,
)
from steward.provisioning.naming import fingerprint
from steward.provisioning.planning import Change, Held, Rules, plan
from steward.provisioning.targets import connector_for, kinds, refusal, settings_of
from steward.register.catalogue import ACTIVITIES
from steward.register.models import RetentionRule
from steward.retention.selectors import holds_in_force
from steward.sharing.models import Disclosure
from steward.tenancy.scope import tenant_scope

CHUNK = 100
LOCK_NAMESPACE = 7_311  # pg advisory lock class for provisioning targets
REMOVING = ("disable", "delete")
_WORDS = [
    "amber",
    "apple",
    "arrow",
    "badger",
    "banjo",
    "beach",
    "berry",
    "birch",
    "bison",
    "blue",
    "bramble",
    "brook",
    "cactus",
    "camel",
    "canyon",
    "cedar",
    "cherry",
    "cloud",
    "clover",
    "comet",
    "coral",
    "cotton",
    "crane",
    "daisy",
    "delta",
    "dolphin",
    "dragon",
    "eagle",
    "ember",
    "falcon",
    "fern",
    "field",
    "finch",
    "flame",
    "forest",
    "fox",
    "galaxy",
    "garden",
    "ginger",
    "glacier",
    "grape",
    "hazel",
    "heron",
    "honey",
    "island",
    "ivy",
    "jade",
    "jungle",
    "kite",
    "koala",
    "lagoon",
    "lemon",
    "lily",
    "lime",
    "lotus",
    "maple",
    "marble",
    "meadow",
    "melon",
    "meteor",
    "mint",
    "moon",
    "moss",
    "nectar",
    "ocean",
    "olive",
    "orange",
    "orchid",
    "otter",
    "panda",
    "pebble",
    "pepper",
    "pine",
    "planet",
    "plum",
    "pony",
    "puffin",
    "quartz",
    "rabbit",
    "rain",
    "raven",
    "reef",
    "river",
    "robin",
    "rocket",
    "rose",
    "ruby",
    "sage",
    "salmon",
    "sand",
    "shell",
    "silver",
    "sky",
    "snow",
    "spark",
    "spruce",
    "star",
    "stone",
    "storm",
    "sun",
    "swan",
    "thistle",
    "thunder",
    "tiger",
    "topaz",
    "tulip",
    "valley",
    "violet",
    "walnut",
    "wave",
    "willow",
    "wind",
    "wolf",
]


class RunRefused(Exception):
    """The run cannot be made or applied now; the message says why, for the person who asked."""


def register_rules() -> Rules:
    """The rostering activity's purposes and leaving rule, from the register (periods as stored)."""
    activity = next(a for a in ACTIVITIES if a.service == "rostering")
    periods = dict(
        RetentionRule.objects.filter(
            activity__service="rostering", trigger=RetentionRule.Trigger.LEAVING_DATE
        ).values_list("category__code", "period_days")
    )
    mis_rule = RetentionRule.objects.filter(
        activity__service="hosted_mis", trigger=RetentionRule.Trigger.LEAVING_DATE, category__code="learner.identity"
    ).first()
    leave = {r.category: r.description for r in activity.retention if r.trigger == "leaving_date"}
    return Rules(
        create=activity.purposes[0],
        update=activity.purposes[2],
        leave=leave["learner.identity"],
        delete_after_days=periods.get("learner.identity", 30),
        reserve_days=mis_rule.period_days if mis_rule else 365,
        staff_leave=leave["staff.identity"],
        staff_delete_after_days=periods.get("staff.identity", 30),
    )


def _held(target: ProvisioningTarget) -> list[Held]:
    return [
        Held(
            person_type=a.person_type,
            source_id=a.source_id,
            remote_id=a.remote_id,
            user_name=a.user_name,
            login=a.login,
            written=a.written,
            active=a.status == ProvisionedAccount.Status.ACTIVE,
            left_on=a.left_on,
            erasure_requested=a.erasure_requested,
            disabled_reason=a.disabled_reason,
        )
        for a in ProvisionedAccount.objects.filter(school_id=target.school_id, target=target).order_by("id")
    ]


def _on_hold(school_id: int, held: list[Held]) -> set[tuple[str, str]]:
    """(person type, source id) of the accounts no plan may delete: the subjects under a legal hold,
    or every account Steward holds when the whole school is held."""
    holds = [h for h in holds_in_force().holds if h.school_id == school_id]
    if any(not h.record_type for h in holds):
        return {(h.person_type, h.source_id) for h in held}
    return {(h.record_type, h.source_id) for h in holds}


def make_plan(*, target: ProvisioningTarget, trigger: str, today: dt.date | None = None) -> ProvisioningRun:
    """Compute and store a plan for one target (call inside the school's tenant scope).

    A plan that removes more than the target's brake allows is stored as held; older plans that
    were never applied are superseded by this one. At a first sync (Steward holds no account at the
    target) the directory's existing accounts are read once, to adopt them rather than duplicate.
    """
    why_not = refusal(target)
    if why_not:
        raise RunRefused(why_not)
    today = today or timezone.localdate()
    people: list[mis_people.Person] = []
    for kind in kinds(target.people):
        reader = mis_people.staff if kind == "staff" else mis_people.learners
        people.extend(reader(school_id=target.school_id, today=today))
    held = _held(target)
    remote = None
    if not held:
        connector = connector_for(target)
        try:
            connector.check()
            remote = list(connector.existing())
        except TargetUnavailable as exc:
            raise RunRefused(f"{target.flow.recipient.name} could not be reached to list its accounts: {exc}") from exc
        finally:
            connector.close()
    ReservedName.objects.filter(school_id=target.school_id, target=target, until__lt=today).delete()
    reserved = set(ReservedName.objects.filter(target=target).values_list("fingerprint", flat=True))
    changes = plan(
        settings=settings_of(target),
        rules=register_rules(),
        people=people,
        held=held,
        today=today,
        on_hold=_on_hold(target.school_id, held),
        reserved=reserved,
        remote=remote,
    )
    return _store(target, trigger, changes, len(held))


def _store(target: ProvisioningTarget, trigger: str, changes: list[Change], total: int) -> ProvisioningRun:
    counts: dict[str, int] = defaultdict(int)
    for c in changes:
        counts[c.action] += 1
    removing = sum(counts.get(a, 0) for a in REMOVING)
    held_reason = ""
    if total and removing * 100 > target.brake_percent * total:
        held_reason = (
            f"This plan disables or deletes {removing} of the {total} accounts Steward keeps in this directory "
            f"({removing * 100 / total:.0f} %), more than the {target.brake_percent} % the school set. "
            "A school admin must confirm it before anything is sent."
        )
    with tenant_scope([target.school_id]):
        ProvisioningRun.objects.filter(
            school_id=target.school_id,
            target=target,
            status__in=[ProvisioningRun.Status.PLANNED, ProvisioningRun.Status.HELD, ProvisioningRun.Status.FAILED],
        ).update(status=ProvisioningRun.Status.SUPERSEDED)
        run: ProvisioningRun = ProvisioningRun.objects.create(
            school_id=target.school_id,
            target=target,
            trigger=trigger,
            status=ProvisioningRun.Status.HELD if held_reason else ProvisioningRun.Status.PLANNED,
            counts=dict(counts),
            account_total=total,
            held_reason=held_reason,
        )
        PlannedChange.objects.bulk_create(
            [
                PlannedChange(
                    school_id=target.school_id,
                    run=run,
                    position=i,
                    action=c.action,
                    person_type=c.person_type,
                    source_id=c.source_id,
                    person=c.person[:250],
                    user_name=c.user_name,
                    reason=c.reason,
                    rule=c.rule,
                    fields=c.fields,
                    desired={**c.desired, "_remote_id": c.remote_id, "_login": c.login, "_left_on": _iso(c.left_on)},
                )
                for i, c in enumerate(changes)
            ]
        )
    return run


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


@contextmanager
def _target_lock(target_id: int) -> Iterator[None]:
    """Hold the target's advisory lock for the whole apply (across its many short transactions)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, target_id])
        (got,) = cur.fetchone()
    if not got:
        raise RunRefused("Another run for this directory is being applied; this one waits for the next turn.")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, target_id])


def new_password() -> str:
    """Three easy words and two digits, e.g. Maple-Otter-Comet-47: meets AD's complexity rule."""
    words = [secrets.choice(_WORDS).capitalize() for _ in range(3)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


def _account(desired: dict[str, Any]) -> Account:
    return Account(
        **{k: v for k, v in desired.items() if not k.startswith("_") and k != "groups"},
        groups=tuple(desired.get("groups", ())),
    )


def apply_run(
    *, run: ProvisioningRun, today: dt.date | None = None, connector: Connector | None = None
) -> ProvisioningRun:
    """Send a plan's changes to its directory and record each outcome (outside any transaction).

    A held plan is refused until a school admin confirmed it. Returns the run, finished: succeeded,
    partial (some accounts refused) or failed (the target could not be used; retried later).
    """
    if connection.in_atomic_block:
        raise RunRefused("apply_run commits as it goes and must not run inside a transaction")
    target = run.target
    if run.status == ProvisioningRun.Status.HELD:
        raise RunRefused("This plan is held until a school admin confirms it.")
    if run.status not in (ProvisioningRun.Status.PLANNED,):
        raise RunRefused(f"This plan cannot be applied: it is {run.get_status_display().lower()}.")
    why_not = refusal(target)
    if why_not:
        raise RunRefused(why_not)
    today = today or timezone.localdate()
    with _target_lock(target.pk):
        with tenant_scope([target.school_id]):
            run.refresh_from_db()
            if run.status != ProvisioningRun.Status.PLANNED:
                raise RunRefused("This plan was applied or replaced meanwhile.")
            run.status, run.started_at = ProvisioningRun.Status.APPLYING, timezone.now()
            run.save(update_fields=["status", "started_at"])
        own = connector is None
        connector = connector or connector_for(target)
        try:
            _apply(run, target, connector, today)
        finally:
            if own:
                connector.close()
    return run


def _apply(run: ProvisioningRun, target: ProvisioningTarget, connector: Connector, today: dt.date) -> None:
    with tenant_scope([target.school_id]):
        changes = list(PlannedChange.objects.filter(run=run).order_by("position"))
        accounts = {(a.person_type, a.source_id): a for a in ProvisionedAccount.objects.filter(target=target)}
        rules = register_rules()
    failure = ""
    try:
        connector.check()
    except TargetUnavailable as exc:
        failure = str(exc) or "the directory could not be reached"
    group_moves: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"add": set(), "remove": set()})
    listed = run.counts.get("adopt", 0) > 0 or run.account_total == 0
    stop = threading.Event()
    if failure:
        stop.set()

    def attempt(change: PlannedChange) -> tuple[str, _Sent | str]:
        """One change, on whichever thread: ("done", what was sent) or (outcome, why). Reads the
        accounts dict only; the main thread changes it between chunks, never while sends run."""
        if stop.is_set():
            return PlannedChange.Outcome.NOT_REACHED, failure
        account = accounts.get((change.person_type, change.source_id))
        try:
            return PlannedChange.Outcome.DONE, _send(change, account, connector, target, skip_lookup=listed)
        except AccountRefused as exc:
            return PlannedChange.Outcome.REFUSED, str(exc)[:2000]
        except TargetUnavailable as exc:
            stop.set()
            return PlannedChange.Outcome.NOT_REACHED, str(exc) or "the directory could not be reached"

    # A directory that takes several requests at once (SCIM over HTTP) gets them: a remote directory
    # answers each in tens of milliseconds, and one at a time that is most of a first sync.
    workers = max(1, connector.capabilities.parallel)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="provisioning") as pool:
        for start in range(0, len(changes), CHUNK):
            chunk = changes[start : start + CHUNK]
            done: list[PlannedChange] = []
            passwords: dict[tuple[str, str], tuple[str, str]] = {}
            deleted: list[ProvisionedAccount] = []
            results = list(pool.map(attempt, chunk)) if workers > 1 else [attempt(c) for c in chunk]
            for change, (outcome, result) in zip(chunk, results, strict=True):
                change.outcome = outcome
                if not isinstance(result, _Sent):
                    change.detail = result
                    if outcome == PlannedChange.Outcome.NOT_REACHED:
                        failure = failure or result
                    continue
                done.append(change)
                key = (change.person_type, change.source_id)
                account = _record(change, accounts.get(key), result, target, today)
                if change.action == "delete":
                    deleted.append(account)
                    accounts.pop(key, None)
                else:
                    accounts[key] = account
                    if result.password:
                        passwords[key] = (result.password, str(change.desired.get("_group", "")))
                    _note_groups(group_moves, result.old_groups, tuple(change.desired.get("groups", ())), account)
            _commit_chunk(run, target, chunk, done, deleted, passwords, accounts, rules, today)
    if not failure:
        failure = _apply_groups(connector, group_moves, accounts, target)
    refused = sum(1 for c in changes if c.outcome == PlannedChange.Outcome.REFUSED)
    run.finished_at = timezone.now()
    run.error = failure
    if failure:
        run.status = ProvisioningRun.Status.FAILED
    elif refused:
        run.status = ProvisioningRun.Status.PARTIAL
    else:
        run.status = ProvisioningRun.Status.SUCCEEDED
    with tenant_scope([target.school_id]):
        run.save(update_fields=["status", "finished_at", "error"])


@dataclass
class _Sent:
    remote_id: str
    old_groups: tuple[str, ...]
    password: str | None = None


def _send(
    change: PlannedChange,
    account: ProvisionedAccount | None,
    connector: Connector,
    target: ProvisioningTarget,
    *,
    skip_lookup: bool,
) -> _Sent:
    """One change to the directory. Creates look the account up first (a provider may already have
    it from an interrupted run), except at a first sync, whose plan was made from the full list."""
    desired = _account(change.desired) if change.action != "delete" else None
    old_groups = tuple(account.written.get("groups", ())) if account else ()
    if change.action == "delete":
        assert account is not None
        connector.delete(account.remote_id)
        return _Sent(account.remote_id, old_groups)
    assert desired is not None
    if change.action in ("create", "adopt"):
        remote_id = change.desired.get("_remote_id", "")
        if not remote_id and not skip_lookup:
            found = connector.find(desired)
            remote_id = found.remote_id if found else ""
        if remote_id:
            connector.update(remote_id, desired, [f for f in change.fields if f != "groups"])
            return _Sent(remote_id, ())
        wants_password = connector.capabilities.passwords and (
            (desired.kind == "learner" and target.initial_passwords)
            # AD makes an enabled account with no password (Samba) or refuses it (Windows): everyone gets one.
            or target.kind == ProvisioningTarget.Kind.ACTIVE_DIRECTORY
        )
        initial = new_password() if wants_password else None
        created = connector.create(desired, password=initial, must_change_password=initial is not None)
        return _Sent(created.remote_id, (), initial)
    assert account is not None
    fields = [f for f in change.fields if f != "groups"]
    if fields:
        connector.update(account.remote_id, desired, fields)
    return _Sent(account.remote_id, old_groups)


def _record(
    change: PlannedChange, account: ProvisionedAccount | None, sent: _Sent, target: ProvisioningTarget, today: dt.date
) -> ProvisionedAccount:
    """Steward's record after a change was sent (saved with its chunk). Groups are recorded as they
    were until the group phase has written them."""
    desired = {k: v for k, v in change.desired.items() if not k.startswith("_")}
    if account is None:
        account = ProvisionedAccount(
            school_id=target.school_id,
            target=target,
            person_type=change.person_type,
            source_id=change.source_id,
        )
    desired["groups"] = list(sent.old_groups)
    account.remote_id = sent.remote_id
    account.user_name = change.user_name or account.user_name
    account.login = change.desired.get("_login") or account.login
    account.written = desired
    account.updated_at = timezone.now()
    if change.action == "disable":
        account.status = ProvisionedAccount.Status.DISABLED
        restricted = "restricted" in change.reason
        account.disabled_reason = "restricted" if restricted else "left"
        left = change.desired.get("_left_on")
        account.left_on = dt.date.fromisoformat(left) if left else today
    elif change.action != "delete":
        account.status = ProvisionedAccount.Status.ACTIVE
        account.disabled_reason = ""
        account.left_on = None
    return account


def _note_groups(
    moves: dict[str, dict[str, set[str]]], old: tuple[str, ...], new: tuple[str, ...], account: ProvisionedAccount
) -> None:
    for g in set(new) - set(old):
        moves[g]["add"].add(account.remote_id)
    for g in set(old) - set(new):
        moves[g]["remove"].add(account.remote_id)


def _apply_groups(
    connector: Connector,
    moves: dict[str, dict[str, set[str]]],
    accounts: dict[tuple[str, str], ProvisionedAccount],
    target: ProvisioningTarget,
) -> str:
    """One membership change per group for the whole run; the accounts' records follow what was written."""
    by_remote = {a.remote_id: a for a in accounts.values()}
    touched: set[int] = set()
    failure = ""
    for group in sorted(moves):
        add, remove = sorted(moves[group]["add"]), sorted(moves[group]["remove"])
        try:
            group_id = connector.ensure_group(group)
            connector.change_members(group_id, add=add, remove=remove)
        except (AccountRefused, TargetUnavailable) as exc:
            failure = failure or f"Group {group}: {exc}"
            continue
        for rid in add:
            a = by_remote.get(rid)
            if a is not None:
                a.written["groups"] = sorted({*a.written.get("groups", []), group})
                touched.add(a.pk)
        for rid in remove:
            a = by_remote.get(rid)
            if a is not None:
                a.written["groups"] = sorted(set(a.written.get("groups", [])) - {group})
                touched.add(a.pk)
    if touched:
        # Accounts of one year and class share their groups: one UPDATE for each list of groups.
        by_groups: dict[str, list[int]] = defaultdict(list)
        for a in accounts.values():
            if a.pk in touched:
                by_groups[json.dumps(a.written.get("groups", []))].append(a.pk)
        with tenant_scope([target.school_id]), connection.cursor() as cursor:
            for groups, ids in by_groups.items():
                cursor.execute(
                    f"UPDATE {ProvisionedAccount._meta.db_table} "  # noqa: S608  # nosec B608 - our table name
                    "SET written = jsonb_set(written, '{groups}', %s::jsonb) WHERE id = ANY(%s)",
                    [groups, ids],
                )
    return failure


def _commit_chunk(
    run: ProvisioningRun,
    target: ProvisioningTarget,
    chunk: list[PlannedChange],
    done: list[PlannedChange],
    deleted: list[ProvisionedAccount],
    passwords: dict[tuple[str, str], tuple[str, str]],
    accounts: dict[tuple[str, str], ProvisionedAccount],
    rules: Rules,
    today: dt.date,
) -> None:
    """Outcomes, account records, reserved names, initial passwords and disclosures: one transaction."""
    with tenant_scope([target.school_id]):
        outcomes: dict[tuple[str, str], list[int]] = defaultdict(list)
        for change in chunk:
            outcomes[(change.outcome, change.detail)].append(change.pk)
        for (outcome, detail), ids in outcomes.items():  # one statement per outcome, not a CASE per row
            PlannedChange.objects.filter(pk__in=ids).update(outcome=outcome, detail=detail)
        keys = {(c.person_type, c.source_id) for c in done if c.action != "delete"}
        saving = [accounts[k] for k in keys if k in accounts]
        new = [a for a in saving if a.pk is None]
        ProvisionedAccount.objects.bulk_create(new)
        ProvisionedAccount.objects.bulk_update(
            [a for a in saving if a not in new],
            ["remote_id", "user_name", "login", "written", "status", "disabled_reason", "left_on", "updated_at"],
        )
        until = today + dt.timedelta(days=rules.reserve_days)
        ReservedName.objects.bulk_create(
            [
                ReservedName(
                    school_id=target.school_id, target=target, fingerprint=fingerprint(target.pk, n), until=until
                )
                for a in deleted
                for n in {a.user_name, a.login}
            ],
            ignore_conflicts=True,
        )
        if deleted:
            ProvisionedAccount.objects.filter(pk__in=[a.pk for a in deleted]).delete()
        InitialPassword.objects.bulk_create(
            [
                InitialPassword(school_id=target.school_id, account=accounts[k], sealed=seal(p), group=g)
                for k, (p, g) in passwords.items()
            ]
        )
        for person_type in ("staff", "learners"):
            subjects = sorted({c.source_id for c in done if c.person_type == person_type})
            if subjects:
                Disclosure.objects.create(
                    school_id=target.school_id,
                    recipient_id=target.flow.recipient_id,
                    flows=[target.flow_id],
                    record_type=person_type,
                    channel=Disclosure.Channel.PROVISIONING,
                    record_count=len(subjects),
                    version_from=0,
                    version_to=0,
                    record_ids=subjects,
                    subject_ids=subjects,
                )
