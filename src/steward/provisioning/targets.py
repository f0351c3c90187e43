"""A target's settings as the planner needs them, what its flow must release, and its connector.

The approved data flow is the school's decision about *what* a directory may receive; the target's
settings say *how* those fields become accounts. Every attribute Steward sends comes from a released
field: a naming rule or a group rule that needs a field the flow does not release is refused when
the school saves it, and a flow that is no longer approved (suspended, revoked, or its recipient
barred by the register) stops every run.
"""

from __future__ import annotations

from steward.core.outbound import outbound_refusal
from steward.core.sealed import unseal
from steward.provisioning.connectors.base import Connector
from steward.provisioning.models import ProvisioningTarget
from steward.provisioning.naming import placeholders
from steward.provisioning.planning import TargetSettings
from steward.sharing.selectors import releasing

STEWARD_OU = "OU=Steward"  # AD: the OU under the base DN that holds everything Steward manages

# What each placeholder of a naming, place or group rule reads, per kind of person, as the
# record-type.field names flows release.
NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "staff": {
        "forename": ("staff.forename",),
        "surname": ("staff.surname",),
        "initial": ("staff.forename",),
        "role": ("staff-assignments.role",),
    },
    "learners": {
        "forename": ("learners.legal_forename",),
        "surname": ("learners.legal_surname",),
        "initial": ("learners.legal_forename",),
        "admission_year": ("school-enrolments.entry_date",),
        "admission_yy": ("school-enrolments.entry_date",),
        "year": ("school-enrolments.year_group",),
        "registration": ("groups.name", "group-enrolments.group_source_id"),
    },
}
# Always needed: an account has a name.
BASE = {
    "staff": ("staff.forename", "staff.surname"),
    "learners": ("learners.legal_forename", "learners.legal_surname", "school-enrolments.year_group"),
}


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def settings_of(target: ProvisioningTarget) -> TargetSettings:
    return TargetSettings(
        target_id=target.pk,
        people=target.people,
        year_groups=tuple(target.year_groups),
        domain=target.domain,
        staff_naming=target.staff_naming,
        learner_naming=target.learner_naming,
        staff_container=target.staff_container,
        learner_container=target.learner_container,
        leavers_container=target.leavers_container,
        staff_groups=_lines(target.staff_groups),
        learner_groups=_lines(target.learner_groups),
        released=frozenset(target.flow.fields),
        school_key=str(target.school.urn),
        id_limit=16 if target.kind == ProvisioningTarget.Kind.ACTIVE_DIRECTORY else None,
    )


def kinds(people: str) -> tuple[str, ...]:
    return ("staff", "learners") if people == "both" else (people,)


def missing_fields(target: ProvisioningTarget, released: set[str]) -> dict[str, list[str]]:
    """For each setting, the fields its rules read that the flow does not release ({} when all are)."""
    rules = {
        "staff": {
            "staff_naming": target.staff_naming,
            "staff_container": target.staff_container,
            "staff_groups": target.staff_groups,
        },
        "learners": {
            "learner_naming": target.learner_naming,
            "learner_container": target.learner_container,
            "learner_groups": target.learner_groups,
        },
    }
    missing: dict[str, list[str]] = {}
    for kind in kinds(target.people):
        base = [f for f in BASE[kind] if f not in released]
        if base:
            missing.setdefault("people", []).extend(base)
        for setting, text in rules[kind].items():
            needed = {f for p in placeholders(text) for f in NEEDS[kind].get(p, ())}
            lacking = sorted(needed - released)
            if lacking:
                missing[setting] = lacking
    return missing


def address_refusal(target: ProvisioningTarget) -> str:
    """Why Steward will not connect to the target's address ('' when it may): the outbound check
    every address others give Steward passes (`core.outbound`). A SCIM service on the internet must be
    https; a domain controller is on a private network by nature, so, like any private host, the ICT
    service's administrators approve it in `STEWARD_OUTBOUND_ALLOWED_PRIVATE` first."""
    if target.kind == ProvisioningTarget.Kind.SCIM:
        why = outbound_refusal(target.endpoint)
    else:
        why = outbound_refusal(target.endpoint, public=("ldaps",), private=("ldaps", "ldap"))
    if why and "private" in why:
        why += ": the ICT service's administrators must approve it (STEWARD_OUTBOUND_ALLOWED_PRIVATE)"
    return why


def refusal(target: ProvisioningTarget) -> str:
    """Why a run may not send anything to this target now ('' when it may)."""
    if target.paused:
        return "The school paused provisioning to this directory."
    # Checked again before every run: DNS can change after the address was saved.
    address = address_refusal(target)
    if address:
        return f"Steward will not connect to {target.endpoint}: {address}."
    flow = target.flow
    if not releasing(flow):
        return f"The data flow to {flow.recipient.name} is {flow.get_status_display().lower()}, not approved."
    missing = missing_fields(target, set(flow.fields))
    if missing:
        fields = sorted({f for fs in missing.values() for f in fs})
        return "The approved flow no longer releases " + ", ".join(fields) + ", which the account rules use."
    return ""


def connector_for(target: ProvisioningTarget) -> Connector:
    """The connector for the target's kind, with its sealed credential opened only here."""
    secret = unseal(target.credential)
    if target.kind == ProvisioningTarget.Kind.SCIM:
        from steward.provisioning.connectors.scim import ScimConnector

        return ScimConnector(target.endpoint, secret)
    from steward.provisioning.connectors.active_directory import ActiveDirectoryConnector

    # Accounts' places are relative to Steward's own OU; a disabled account goes to the leavers' OU.
    leavers = ",".join(p for p in (target.leavers_container, STEWARD_OU) if p)
    return ActiveDirectoryConnector(
        target.endpoint,
        target.bind_user,
        secret,
        target.base_dn,
        start_tls=target.start_tls,
        ca_file=target.ca_file or None,
        users_ou=STEWARD_OU,
        groups_ou=f"OU=Groups,{STEWARD_OU}",
        leavers_ou=leavers,
    )
