"""The audit log in words: "Viewed Sam Smith's attendance", not `view mis.Learner (1)`.

Events store codes (an action, an object type, ids) because the chain hashes them and they must
not change; people read sentences. `describe` makes one from an event and the names of the
learners it touches (found by `steward.mis.search.learner_names`, which sees only the scope's
learners: a processor reading a school's events sees "a pupil", never the pupil's name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from steward.audit.models import AuditEvent
from steward.mis.search import learner_names

# Action code -> the verb, past tense. A code not listed is shown with its underscores as spaces.
ACTIONS: dict[str, str] = {
    "view": "Viewed {what}",
    "portal_view": "Viewed {what}",
    "switch_school": "Switched school",
    "sign_in": "Signed in",
    "sign_out": "Signed out",
    "sign_in_failed": "Failed to sign in",
    "sign_in_locked_out": "Was locked out of signing in",
    "sign_in_address_locked": "Sign-in locked for an address",
    "two_factor_locked": "Was locked out of two-factor authentication",
    "portal_invitations_sent": "Invited {what} to the parent portal",
    "portal_invitation_accepted": "Accepted a parent portal invitation",
    "portal_settings_changed": "Changed the parent portal settings",
    "flow_request_recorded": "Recorded a request to share data",
    "flow_approve": "Approved {what}",
    "flow_decline": "Declined {what}",
    "flow_suspend": "Suspended {what}",
    "flow_revoke": "Revoked {what}",
    "consent_given": "Gave consent",
    "consent_withdrawn": "Withdrew consent",
    "agreement_signed": "Signed a data use agreement",
    "agreement_revoked": "Revoked a data use agreement",
    "ingest_applied": "Applied {what}",
    "ingest_rejected": "Rejected {what}",
    "export_ctf": "Exported a CTF file",
    "export_csv": "Exported {what} as CSV",
    "retention_delete": "Deleted expired data",
    "termination_export": "Exported data at the end of a contract",
    "termination_purge": "Purged data at the end of a contract",
    "legal_hold_placed": "Placed a legal hold",
    "legal_hold_lifted": "Lifted a legal hold",
    "search": "Searched and was shown {what}",
    "audit_chain_heads": "Sealed the newest event of each school's audit log",
}

# Object type -> (one, several). A type not listed is shown as "a record" / "records".
OBJECTS: dict[str, tuple[str, str]] = {
    "mis.Learner": ("pupil", "pupils"),
    "mis.Contact": ("parent or carer", "parents and carers"),
    "mis.Staff": ("staff member", "staff members"),
    "rights.RightsRequest": ("rights request", "rights requests"),
    "sharing.DataFlow": ("data sharing flow", "data sharing flows"),
    "sharing.Disclosure": ("disclosure", "disclosures"),
    "consents.Consent": ("consent", "consents"),
    "consents.DataUseAgreement": ("data use agreement", "data use agreements"),
    "consents.PseudonymisedCopy": ("pseudonymised copy", "pseudonymised copies"),
    "consents.MarketingPreference": ("marketing preference", "marketing preferences"),
    "retention.LegalHold": ("legal hold", "legal holds"),
    "retention.ContractTermination": ("contract termination", "contract terminations"),
    "retention.BackupCopy": ("backup copy", "backup copies"),
    "retention.RetentionProof": ("proof of deletion", "proofs of deletion"),
    "tenancy.Organisation": ("school", "schools"),
    "tenancy.Membership": ("staff account", "staff accounts"),
    "portal.PortalSettings": ("portal settings", "portal settings"),
    "ingest.IngestBatch": ("MIS batch", "MIS batches"),
    "audit.AuditEvent": ("audit log entry", "audit log entries"),
}

# A portal item code -> how its page is named after a possessive ("Sam Smith's attendance").
ITEMS: dict[str, str] = {
    "list": "name on the children list",
    "details": "details",
}


def action_label(code: str) -> str:
    """The sentence pattern of an action code: listed ("{what}" marks where the record goes), a
    rights request's step, or the code made readable with the record after it."""
    if code in ACTIONS:
        return ACTIONS[code]
    if code.startswith("rights_request_"):
        return "Rights request " + code.removeprefix("rights_request_").replace("_", " ")
    return code.replace("_", " ").capitalize() + " {what}"


def action_name(code: str) -> str:
    """The action alone, for the filter's list ("Viewed", "Approved")."""
    return action_label(code).replace(" {what}", "").replace(": {what}", "").replace("{what}", "").strip()


def object_label(object_type: str, count: int) -> str:
    """ "a pupil", "3 rights requests", "rights requests" (no ids: a kind of record, not some
    records), "" for an event about nothing in particular."""
    if not object_type:
        return ""
    one, several = OBJECTS.get(object_type, ("record", "records"))
    if count == 0:
        return several
    if count == 1:
        return f"an {one}" if one[0] in "aeiouAEIOU" or one.startswith("MIS") else f"a {one}"
    return f"{count} {several}"


def describe(event: AuditEvent, names: Mapping[str, str]) -> str:
    """One sentence saying what happened: the verb, then whom or what, by name where the scope
    allows (`names`: learner id -> display name), then the portal item viewed, if any."""
    pattern = action_label(event.action)
    ids = list(event.object_ids)
    item = str(event.detail.get("item", "")) if isinstance(event.detail, dict) else ""
    item_words = ITEMS.get(item, item.replace("_", " "))
    if event.object_type == "mis.Learner" and ids and all(i in names for i in ids):
        who = _join([names[i] for i in ids])
        what = f"{who}'s {item_words}" if item else who
    else:
        what = object_label(event.object_type, len(ids))
        if item and event.object_type == "mis.Learner":
            what = f"the {item_words} of {what}"
    return " ".join(pattern.replace("{what}", what).split()).removesuffix(":")


def _join(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:2])} and {len(names) - 2} more"


def describe_all(events: Iterable[AuditEvent], *, school_id: int | None) -> list[tuple[AuditEvent, str]]:
    """Each event with its sentence. In a school's scope the pupils are named (one statement for
    the whole page); the processor's reading (`school_id=None`) names none."""
    events = list(events)
    names: Mapping[str, str] = {}
    if school_id is not None:
        names = learner_names(i for e in events if e.object_type == "mis.Learner" for i in e.object_ids)
    return [(event, describe(event, names)) for event in events]


def action_choices() -> list[tuple[str, str]]:
    """The actions a reader can filter by, as (code, label), by label."""
    return sorted(((code, action_name(code)) for code in ACTIONS), key=lambda pair: (pair[1], pair[0]))


def record_type_choices() -> list[tuple[str, str]]:
    """The kinds of record a reader can filter by, as (object type, label), by label."""
    return sorted(((code, several.capitalize()) for code, (_, several) in OBJECTS.items()), key=lambda p: p[1])
