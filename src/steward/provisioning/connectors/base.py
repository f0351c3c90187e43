"""What every directory connector offers the provisioning run, and the two ways it can fail.

The run (provisioning/runs.py) decides *what* should change from the MIS data and Steward's record
of what it last wrote; a connector only carries one operation to its directory. Connectors hold no
state between runs and import nothing of Django, so each is tested against a real server alone.

Failures come in two kinds, because the run treats them differently:
- `TargetUnavailable`: the directory is down, refuses Steward's credentials, or keeps asking it to
  slow down. Nothing more can be done in this run; the run stops and is retried later.
- `AccountRefused`: the directory rejected this one account (a conflict, a value it will not take).
  The run records which account and why, and carries on with the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["staff", "learner"]


class TargetUnavailable(Exception):
    """The whole directory cannot be used now (unreachable, credentials refused, throttled)."""


class AccountRefused(Exception):
    """The directory refused one account; `str(exc)` says why in words a school admin can read."""


@dataclass(frozen=True)
class Account:
    """What Steward wants one person's account in a directory to be.

    `external_id` is Steward's stable key for the person at the school (``staff:<source id>`` or
    ``learner:<source id>``), written to the directory (SCIM ``externalId``, AD ``employeeID``) so a
    later run, or a first sync that adopts existing accounts, finds the same account again.
    `container` is the place in the directory, as an OU path relative to the target's base
    (``OU=Year 7,OU=Pupils``); directories without containers ignore it. `groups` are the display
    names of the groups the account belongs to (group membership itself is set through
    `Connector.ensure_group` / `change_members`).
    """

    external_id: str
    user_name: str  # the sign-in name: userPrincipalName / SCIM userName, e.g. jo.bloggs@school.example
    login: str  # the short name: sAMAccountName (at most 20 characters)
    given_name: str
    family_name: str
    display_name: str
    email: str
    kind: Kind
    active: bool = True
    container: str = ""
    groups: tuple[str, ...] = ()
    title: str = ""  # staff: their role; learners: empty
    department: str = ""  # learners: their year group; staff: empty


@dataclass(frozen=True)
class RemoteAccount:
    """An account as the directory reports it (for adopting existing accounts at a first sync)."""

    remote_id: str  # SCIM id / AD objectGUID (as a string)
    user_name: str
    external_id: str = ""
    email: str = ""
    active: bool = True


@dataclass(frozen=True)
class Created:
    """What `create` returns: the directory's id for the new account."""

    remote_id: str


@dataclass
class Capabilities:
    """What a directory supports, so the run and the back office only promise what it does."""

    containers: bool = False  # accounts live in OUs that can be moved between
    forced_password_change: bool = False  # an initial password can be made to change at first sign-in
    passwords: bool = True  # an initial password can be set at all
    parallel: int = 1  # how many operations may be in flight at once (the connector is thread-safe for that many)
    notes: list[str] = field(default_factory=list)


class Connector(Protocol):
    """One directory. Every method either does its whole operation or raises one of the two errors."""

    capabilities: Capabilities

    def check(self) -> None:
        """Connect and authenticate; raise `TargetUnavailable` (with the reason) if that fails."""

    def existing(self) -> Iterator[RemoteAccount]:
        """Every account in the directory's managed scope, page by page (for a first sync)."""

    def find(self, account: Account) -> RemoteAccount | None:
        """The directory's account for this person, looked up by external id, then by sign-in name."""

    def create(self, account: Account, *, password: str | None, must_change_password: bool) -> Created:
        """Create the account (in its container, active or not as `account.active` says)."""

    def update(self, remote_id: str, account: Account, changed: Sequence[str]) -> None:
        """Write the attributes named in `changed` (names of `Account` fields) with `account`'s values.
        A change of `container` moves the account; a change of `active` enables or disables it."""

    def delete(self, remote_id: str) -> None:
        """Delete the account. An account that is already gone is not an error."""

    def ensure_group(self, name: str, container: str = "") -> str:
        """The directory's id of the group with this display name, creating the group if needed."""

    def change_members(self, group_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Add and remove accounts (by remote id) to and from one group; sends nothing when both are empty."""

    def close(self) -> None:
        """Release connections."""
