"""Retention's own records: proofs of deletion, legal holds, backup copies, the erasure replay log and
contract terminations.

Proofs, backups, the replay log and terminations are the processor's accountability records
(Art. 5(2)): they must outlive the school's data, so they are not tenant tables and a school purge
keeps them. None of them holds the personal data whose deletion they prove.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData, PersonalData
from steward.tenancy.models import Organisation, TenantModel


class RetentionProof(models.Model):
    """One deletion: which policy, which category, whose school, how many rows, when. No personal data.

    Not `rights.ProofOfDeletion`: that one is tied one-to-one to a rights request (a tenant row with
    the requester's name, purged with the school), while these are written by sweeps and purges
    that have no request, and must survive the school's purge.
    """

    class Run(models.TextChoices):
        SWEEP = "sweep", "Retention sweep"
        TERMINATION = "termination", "Contract termination"
        ERASURE = "erasure", "Erasure request"
        EARLY = "early", "Destroyed before its retention period ended"

    run = models.CharField(max_length=12, choices=Run.choices)
    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    policy = models.CharField(max_length=300, help_text="The register's rule (activity, period, trigger)")
    category = models.CharField(max_length=60, blank=True, help_text="Data category code, when the rule names one")
    what = models.CharField(max_length=200)
    rows = models.PositiveBigIntegerField()
    at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("counts per policy and category")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["school", "at"], name="retention_proof_school_time")]

    def __str__(self) -> str:
        return f"{self.rows} row(s) of {self.what} ({self.policy})"


class LegalHold(TenantModel):
    """Stops deletion (sweeps, erasure, contract purge) of one subject's records, or of a whole school's."""

    class Kind(models.TextChoices):
        SCHOOL = "school", "Whole school"
        SUBJECT = "subject", "One subject"

    class SubjectKind(models.TextChoices):
        LEARNER = "learner", "Learner"
        CONTACT = "contact", "Parent or carer"
        STAFF = "staff", "Staff member"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices, blank=True)
    subject_source_id = models.CharField(max_length=100, blank=True, help_text="The MIS's id of the subject")
    reason = models.TextField(help_text="The claim, inquiry or obligation that requires keeping the data")
    placed_by = models.CharField(max_length=200)
    placed_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields={
            "subject_source_id": "learner.identity",
            "reason": "learner.identity",
            "placed_by": "school_user.account",
        },
        not_personal={"id", "school", "kind", "subject_kind", "placed_at", "lifted_at"},
    )

    class Meta:
        indexes = [models.Index(fields=["school", "lifted_at"], name="retention_hold_school")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="school") & models.Q(subject_kind="") & models.Q(subject_source_id=""))
                | (models.Q(kind="subject") & ~models.Q(subject_kind="") & ~models.Q(subject_source_id="")),
                name="retention_hold_names_its_subject",
            )
        ]


class BackupCopy(models.Model):
    """A backup taken of the database: until `kept_until` it still holds what was erased since."""

    taken_at = models.DateTimeField()
    kept_until = models.DateTimeField()
    place = models.CharField(max_length=40, help_text="Register place of processing code, e.g. uk-backup")
    location = models.CharField(max_length=300, help_text="Where the copy is (vault path or object key)")
    # The backup location when the copy was made (a folder path, or s3://bucket/prefix?endpoint_url=...),
    # so that restore, verify and expiry find it after STEWARD_BACKUP_LOCATION changes; blank: the setting's.
    store = models.CharField(
        max_length=500, blank=True, default="", help_text="The backup location the copy was written to"
    )
    school_ids = ArrayField(models.BigIntegerField(), help_text="The schools whose data the copy holds")
    # Filled by `steward backup create` (a copy recorded by hand, before it existed, leaves them blank).
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the encrypted file")
    size_bytes = models.PositiveBigIntegerField(default=0, help_text="Size of the encrypted file")
    pg_version = models.CharField(max_length=20, blank=True, help_text="PostgreSQL version of the dumped server")
    verified_at = models.DateTimeField(null=True, blank=True, help_text="When `steward backup verify` last ran")
    verified_ok = models.BooleanField(null=True, blank=True, help_text="Whether that verification passed")
    verification = models.JSONField(default=dict, blank=True, help_text="What it found (checks, counts per school)")
    # Set by `backup_expire` when the file was deleted past `kept_until`: the row stays as the proof.
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="When the file was deleted from its place")

    class Kind(models.TextChoices):
        DUMP = "dump", "pg_dump of the database (restores to the time it was taken)"
        BASE = "base", "Base backup of the cluster (restores to any time the archived WAL reaches)"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DUMP)
    wal_start = models.CharField(
        max_length=24, blank=True, help_text="A base backup's first WAL segment (the WAL kept from here on)"
    )

    privacy = NoPersonalData("where and when a copy was made, its checksum and verification")

    class Meta:
        ordering = ["taken_at"]
        indexes = [models.Index(fields=["kept_until"], name="retention_backup_kept")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kept_until__gt=models.F("taken_at")), name="backup_kept_after")
        ]

    def __str__(self) -> str:
        return f"backup of {self.taken_at:%Y-%m-%d %H:%M} at {self.place}"


class RestoreReplay(models.Model):
    """One erasure or purge, to be applied again after a backup older than it is restored.

    Holds only what finds the rows again: record type and MIS source ids (or a whole school).
    """

    class Kind(models.TextChoices):
        SUBJECT_ERASURE = "subject_erasure", "A subject erased through every provider"
        MIS_RECORDS = "mis_records", "MIS records deleted (with tombstones)"
        PHOTOS = "photos", "Learners' photographs removed"
        ROWS = "rows", "Rows deleted by id"
        SCHOOL_PURGE = "school_purge", "Every row of the school purged"

    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target = models.CharField(max_length=60, blank=True, help_text="Record type, subject kind or table")
    source_ids = ArrayField(models.CharField(max_length=100), default=list, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields={"source_ids": "learner.identity"},
        not_personal={"id", "at", "kind", "school", "target"},
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["at"], name="retention_replay_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class ContractTermination(models.Model):
    """The end of a school's contract: its export, the confirmation window, the purge and its certificate."""

    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    contract = models.ForeignKey("tenancy.Contract", on_delete=models.PROTECT, related_name="+")
    requested_by = models.CharField(max_length=200)
    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, help_text="Why the contract ended, as the processor recorded it")
    notified = models.JSONField(default=list, blank=True, help_text="Addresses told of the termination")
    export_file = models.CharField(max_length=300, blank=True, help_text="Path of the export under the var dir")
    export_bytes = models.PositiveBigIntegerField(default=0)
    export_sha256 = models.CharField(max_length=64, blank=True)
    purge_not_before = models.DateTimeField()
    window_overridden = models.BooleanField(default=False)
    confirmed_by = models.CharField(max_length=200, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    deleted = models.JSONField(default=dict, blank=True, help_text="table -> rows deleted")
    verified = models.BooleanField(default=False, help_text="every tenant table counted 0 rows of the school after")
    verification = models.JSONField(default=dict, blank=True, help_text="table -> rows left (all 0 when verified)")

    privacy = PersonalData(
        subject="school_user",
        fields={
            "requested_by": "school_user.account",
            "confirmed_by": "school_user.account",
            "notified": "school_user.account",
        },
        not_personal={
            "id",
            "school",
            "contract",
            "requested_at",
            "reason",
            "export_file",
            "export_bytes",
            "export_sha256",
            "purge_not_before",
            "window_overridden",
            "purged_at",
            "deleted",
            "verified",
            "verification",
        },
    )

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["school", "requested_at"], name="retention_termination_school")]

    def __str__(self) -> str:
        return f"termination of {self.contract_id}"
