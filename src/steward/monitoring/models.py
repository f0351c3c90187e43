"""What detection keeps between passes (the cursor and the tallies) and what it raises (alerts, breaches).

The tallies are the reason a pass costs in proportion to the new events only: each pass adds the new
events' counts to per-rule buckets (subject, school, time window) and judges only the buckets it
touched, so nothing already counted is read again.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from steward.register.classification import NoPersonalData, PersonalData
from steward.tenancy.models import Organisation


class DetectionCursor(models.Model):
    """The last audit event id a detection pass has read (one row). Advanced in the pass's own
    transaction, so a pass that fails counts nothing twice and misses nothing."""

    last_event_id = models.BigIntegerField(default=0)
    passes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    privacy = NoPersonalData("an event id and a count of passes")

    def __str__(self) -> str:
        return f"read through event {self.last_event_id}"


class Tally(models.Model):
    """What a later detection pass needs of one rule's counts for one subject in one time bucket: a
    baseline rule's daily history, or a bucket still open (see `monitoring.rules.base`). `school_id` 0
    is no school (sign-in failures, refused API calls). The first and last event ids bound where the
    evidence is looked up again. Written and read only by the detection pass, in the processor scope;
    row-level security still keeps a school's scope to its own rows."""

    rule = models.CharField(max_length=40)
    school_id = models.BigIntegerField(default=0)
    subject_key = models.CharField(max_length=300)
    item = models.CharField(max_length=300, blank=True, default="")
    bucket_start = models.DateTimeField()
    bucket_end = models.DateTimeField()
    events = models.PositiveBigIntegerField(default=0)
    weight = models.PositiveBigIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()

    privacy = PersonalData(
        subject="school_user",
        fields={
            "subject_key": "audit.activity",
            "item": "audit.activity",
            "first_at": "audit.activity",
            "last_at": "audit.activity",
            "first_id": "audit.activity",
            "last_id": "audit.activity",
        },
        not_personal={
            "id",
            "rule",
            "school_id",
            "bucket_start",
            "bucket_end",
            "events",
            "weight",
        },
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "school_id", "subject_key", "item", "bucket_start"], name="tally_one_per_bucket"
            )
        ]
        indexes = [models.Index(fields=["bucket_end"], name="tally_bucket_end")]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject_key} {self.bucket_start:%Y-%m-%d %H:%M}: {self.events}"


class SignInCountry(models.Model):
    """Where a person has signed in from: one row per (user, country), with the first and last time
    and the last event. The two country rules read this instead of the person's history in the audit
    log, so a pass reads only its own sign-ins; a person's latest placed sign-in is their row with the
    latest `last_seen`. The processor's record (sign-ins belong to no school): processor scope only."""

    user_id = models.BigIntegerField()
    country = models.CharField(max_length=2)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_event_id = models.BigIntegerField()

    privacy = PersonalData(
        subject="school_user",
        fields={
            "user_id": "school_user.sign_in",
            "country": "school_user.sign_in",
            "first_seen": "school_user.sign_in",
            "last_seen": "school_user.sign_in",
            "last_event_id": "school_user.sign_in",
        },
        not_personal={"id"},
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "country"], name="signin_country_once")]

    def __str__(self) -> str:
        return f"user {self.user_id} in {self.country} until {self.last_seen:%Y-%m-%d}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED_EXPECTED = "resolved_expected", "Resolved: expected behaviour"
    RESOLVED_INCIDENT = "resolved_incident", "Resolved: an incident"


class Alert(models.Model):
    """One finding of one rule about one subject in one window, for a school (or, with no school,
    for the processor: spraying across schools, a client's misuse, staff of no school).

    Deduplicated: at most one open alert per (rule, subject, school, window), which a unique
    partial index enforces; a repeated firing adds to the evidence of the alert it already raised."""

    rule = models.CharField(max_length=40)
    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    subject_kind = models.CharField(max_length=10)  # user, client, address, network, account
    subject_key = models.CharField(max_length=300)
    subject_label = models.CharField(max_length=300)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    event_ids = ArrayField(models.BigIntegerField(), default=list, help_text="evidence, capped")
    event_count = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    summary = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    note = models.TextField(blank=True)
    changed_by_label = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    privacy = PersonalData(
        subject="school_user",
        fields={
            "subject_key": "audit.activity",
            "subject_label": "audit.activity",
            "event_ids": "audit.activity",
            "counts": "audit.activity",
            "first_at": "audit.activity",
            "last_at": "audit.activity",
            "summary": "audit.activity",
            "note": "audit.activity",
            "changed_by_label": "audit.activity",
        },
        not_personal={
            "id",
            "rule",
            "school",
            "subject_kind",
            "window_start",
            "window_end",
            "event_count",
            "status",
            "changed_at",
            "created_at",
            "updated_at",
        },
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject_key", "school", "window_start"],
                condition=Q(status="open"),
                nulls_distinct=False,
                name="alert_one_open_per_window",
            )
        ]
        indexes = [
            models.Index(fields=["school", "status", "created_at"], name="alert_school_status"),
            models.Index(fields=["rule", "subject_key", "window_start"], name="alert_key"),
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject_label} ({self.window_start:%Y-%m-%d %H:%M})"

    @property
    def resolved(self) -> bool:
        return self.status in (AlertStatus.RESOLVED_EXPECTED, AlertStatus.RESOLVED_INCIDENT)


class IcoDecision(models.TextChoices):
    UNDECIDED = "undecided", "Not decided yet"
    YES = "yes", "Yes: the ICO must be told"
    NO = "no", "No: the ICO need not be told"


ICO_HOURS = 72


class Breach(models.Model):
    """A personal data breach the school (the controller) records from an alert resolved as an
    incident: what happened, who and what it touched (computed from the audit evidence), and the
    72-hour clock for telling the ICO, which runs from when the school became aware."""

    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    alert = models.OneToOneField(Alert, on_delete=models.PROTECT, related_name="breach")
    what_happened = models.TextField()
    aware_at = models.DateTimeField()
    categories = models.JSONField(default=list, help_text="[{code, name, people}] from the evidence")
    people_estimate = models.PositiveIntegerField(default=0)
    people = models.JSONField(default=list, help_text="[{record_type, ids}] the records the evidence names")
    ico_decision = models.CharField(max_length=10, choices=IcoDecision.choices, default=IcoDecision.UNDECIDED)
    ico_reason = models.TextField(blank=True)
    created_by_label = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    privacy = PersonalData(
        subject="school_user",
        fields={
            "what_happened": "audit.activity",
            "people": "audit.activity",
            "ico_reason": "audit.activity",
            "created_by_label": "audit.activity",
        },
        not_personal={
            "id",
            "school",
            "alert",
            "aware_at",
            "categories",
            "people_estimate",
            "ico_decision",
            "created_at",
            "updated_at",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "created_at"], name="breach_school_time")]

    def __str__(self) -> str:
        return f"Breach from alert {self.alert_id}"

    @property
    def ico_deadline(self) -> dt.datetime:
        return self.aware_at + dt.timedelta(hours=ICO_HOURS)
