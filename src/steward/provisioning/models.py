"""Provisioning: the directories a school sends accounts to, what Steward last wrote there, and each run.

A target hangs off an approved data flow: the flow says which recipient may receive which fields on
which lawful basis, and the target says how those fields become accounts (who, where, named how).
Steward keeps its own record of every account it wrote (`ProvisionedAccount`), so a plan is computed
from the MIS and that record alone, without reading the directory back: a night with nothing changed
sends nothing. Each run keeps its plan and the outcome of every change (`ProvisioningRun`,
`PlannedChange`), which is what a school admin reads when something went wrong.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData, PersonalData
from steward.sharing.models import DataFlow
from steward.tenancy.models import TenantModel


class ProvisioningTarget(TenantModel):
    """One directory a school provisions accounts into, under one approved data flow."""

    class Kind(models.TextChoices):
        SCIM = "scim", "SCIM 2.0 directory"
        ACTIVE_DIRECTORY = "ad", "Active Directory (LDAP)"

    class People(models.TextChoices):
        STAFF = "staff", "Staff only"
        LEARNERS = "learners", "Learners only"
        BOTH = "both", "Staff and learners"

    name = models.SlugField(max_length=60, help_text="Short name used on the command line, e.g. entra")
    flow = models.OneToOneField(DataFlow, on_delete=models.PROTECT, related_name="provisioning_target")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    endpoint = models.CharField(max_length=300, help_text="SCIM base URL, or ldaps:// / ldap:// URL of the domain")
    # The SCIM bearer token or the AD bind password, sealed (core/sealed.py): Steward must send it.
    credential = models.TextField(blank=True)
    bind_user = models.CharField(max_length=200, blank=True, help_text="AD: the account Steward binds as")
    base_dn = models.CharField(max_length=300, blank=True, help_text="AD: the domain's base DN")
    start_tls = models.BooleanField(default=False)
    ca_file = models.CharField(
        max_length=300, blank=True, help_text="AD: a CA bundle on the Steward server to trust (empty: the system's)"
    )
    people = models.CharField(max_length=8, choices=People.choices, default=People.BOTH)
    year_groups = ArrayField(
        models.CharField(max_length=3), default=list, blank=True, help_text="Learners' year groups (empty: all)"
    )
    domain = models.CharField(max_length=200, help_text="The school's sign-in domain, e.g. school.example")
    staff_naming = models.CharField(max_length=120, default="{forename}.{surname}{n}@{domain}")
    learner_naming = models.CharField(max_length=120, default="{admission_yy}{surname}{initial}{n}@{domain}")
    staff_container = models.CharField(max_length=200, default="OU=Staff", blank=True)
    learner_container = models.CharField(max_length=200, default="OU=Year {year},OU=Pupils", blank=True)
    leavers_container = models.CharField(max_length=200, default="OU=Leavers", blank=True)
    staff_groups = models.TextField(default="All staff\n{role}", blank=True, help_text="One group name per line")
    learner_groups = models.TextField(default="All pupils\nYear {year}\n{registration}", blank=True)
    initial_passwords = models.BooleanField(default=True, help_text="Give new learners an initial password")
    brake_percent = models.PositiveSmallIntegerField(
        default=5, help_text="Hold a plan that disables or deletes more than this share of the accounts"
    )
    paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("how a school's accounts are made in one directory")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="provisioning_target_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class ProvisionedAccount(TenantModel):
    """Steward's record of one account it wrote to one target: what it last wrote, and where it stands."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    target = models.ForeignKey(ProvisioningTarget, on_delete=models.CASCADE, related_name="accounts")
    person_type = models.CharField(max_length=10, help_text="staff or learners")
    source_id = models.CharField(max_length=100)
    remote_id = models.CharField(max_length=200)
    user_name = models.CharField(max_length=256)
    login = models.CharField(max_length=64)
    written = models.JSONField(help_text="The account's attributes as Steward last wrote them")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    disabled_reason = models.CharField(max_length=20, blank=True, help_text="left, restricted or removed")
    left_on = models.DateField(null=True, blank=True, help_text="The leaving date the account was disabled for")
    erasure_requested = models.BooleanField(default=False, help_text="The school erased the person: delete next run")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="learner",
        fields={
            "source_id": "learner.identity",
            "user_name": "learner.identity",
            "login": "learner.identity",
            "written": "learner.identity",
            "left_on": "learner.enrolment",
        },
        not_personal={
            "id",
            "school",
            "target",
            "person_type",
            "remote_id",
            "status",
            "disabled_reason",
            "erasure_requested",
            "created_at",
            "updated_at",
        },
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target", "person_type", "source_id"], name="provisioning_account_person"),
        ]
        indexes = [models.Index(fields=["school", "person_type", "source_id"], name="provisioning_account_subject")]


class ReservedName(TenantModel):
    """A deleted leaver's account name, kept only as a fingerprint until the retention period ends,
    so that the name is not handed to somebody else meanwhile (mail for the leaver would reach them)."""

    target = models.ForeignKey(ProvisioningTarget, on_delete=models.CASCADE, related_name="reserved_names")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the target and the lower-cased name")
    until = models.DateField()

    privacy = NoPersonalData("a one-way fingerprint of a former account name, and a date")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "fingerprint"], name="provisioning_reserved_name")]
        indexes = [models.Index(fields=["school", "until"], name="provisioning_reserved_until")]


class ProvisioningRun(TenantModel):
    """One computed plan for one target, and what happened when it was applied."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned, not yet applied"
        HELD = "held", "Held for a school admin's confirmation"
        APPLYING = "applying", "Being applied"
        SUCCEEDED = "succeeded", "Applied"
        PARTIAL = "partial", "Applied, some accounts refused"
        FAILED = "failed", "Target unavailable, to be retried"
        SUPERSEDED = "superseded", "Replaced by a newer plan"
        DISCARDED = "discarded", "Discarded by a school admin"

    class Trigger(models.TextChoices):
        BATCH = "batch", "After an MIS batch"
        NIGHTLY = "nightly", "Nightly"
        MANUAL = "manual", "Started by hand"
        RIGHTS = "rights", "Erasure or restriction"
        RETRY = "retry", "Retry"

    target = models.ForeignKey(ProvisioningTarget, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    planned_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, help_text="Changes planned, by action")
    account_total = models.PositiveIntegerField(default=0, help_text="Accounts Steward held at the target")
    held_reason = models.TextField(blank=True)
    confirmed_by = models.CharField(max_length=200, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the target could not be used")
    attempt = models.PositiveSmallIntegerField(default=1)

    privacy = PersonalData(
        subject="school_user",
        fields={"confirmed_by": "school_user.account"},
        not_personal={
            "id",
            "school",
            "target",
            "trigger",
            "status",
            "planned_at",
            "started_at",
            "finished_at",
            "counts",
            "account_total",
            "held_reason",
            "confirmed_at",
            "error",
            "attempt",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "target", "planned_at"], name="provisioning_run_target")]

    @property
    def summary(self) -> str:
        """The plan's changes in words, e.g. "Create 6, Disable 1" ("No changes" when empty)."""
        labels = dict(PlannedChange.Action.choices)
        parts = [f"{labels.get(action, action)} {n}" for action, n in self.counts.items() if n]
        return ", ".join(parts) or "No changes"


class PlannedChange(TenantModel):
    """One account change in a run's plan: what, why, under which rule, and how it ended."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        ADOPT = "adopt", "Adopt existing account"
        UPDATE = "update", "Update"
        MOVE = "move", "Move"
        DISABLE = "disable", "Disable"
        ENABLE = "enable", "Re-enable"
        DELETE = "delete", "Delete"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Not yet applied"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused by the target"
        NOT_REACHED = "not_reached", "Not reached: the target became unavailable"

    run = models.ForeignKey(ProvisioningRun, on_delete=models.CASCADE, related_name="changes")
    position = models.PositiveIntegerField()
    action = models.CharField(max_length=8, choices=Action.choices)
    person_type = models.CharField(max_length=10)
    source_id = models.CharField(max_length=100)
    person = models.CharField(max_length=250, help_text="The person's name as shown to the school")
    user_name = models.CharField(max_length=256)
    reason = models.TextField()
    rule = models.TextField(help_text="The register rule behind the change")
    fields = ArrayField(models.CharField(max_length=30), default=list, help_text="Attributes changed")
    desired = models.JSONField(help_text="The account as it should be after the change")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.TextField(blank=True, help_text="Why the target refused the change")

    privacy = PersonalData(
        subject="learner",
        fields={
            "source_id": "learner.identity",
            "person": "learner.identity",
            "user_name": "learner.identity",
            "desired": "learner.identity",
            "reason": "learner.enrolment",
        },
        not_personal={
            "id",
            "school",
            "run",
            "position",
            "action",
            "person_type",
            "rule",
            "fields",
            "outcome",
            "detail",
        },
    )

    class Meta:
        ordering = ["position"]
        indexes = [
            models.Index(fields=["school", "run", "position"], name="provisioning_change_run"),
            models.Index(fields=["school", "person_type", "source_id"], name="provisioning_change_subject"),
        ]


class InitialPassword(TenantModel):
    """A new learner's initial password, sealed, until school staff print the letters (then deleted).

    Shown once: printing the letters deletes the rows, so Steward never keeps a password it could
    show again. The target forces a change at first sign-in where it supports that.
    """

    account = models.OneToOneField(ProvisionedAccount, on_delete=models.CASCADE, related_name="initial_password")
    sealed = models.TextField()
    group = models.CharField(max_length=100, help_text="The registration group the letter is printed with")
    created_at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="learner",
        fields={"sealed": "learner.identity"},
        not_personal={"id", "school", "account", "group", "created_at"},
    )

    class Meta:
        indexes = [models.Index(fields=["school", "created_at"], name="provisioning_password_time")]
