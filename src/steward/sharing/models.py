"""Data flows (what a school approved a recipient may receive) and the log of what was disclosed."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData, PersonalData
from steward.register.models import LawfulBasis, ProcessingActivity, Recipient, SpecialCondition
from steward.tenancy.models import TenantModel


class DataFlow(TenantModel):
    """A recipient's access to a school's data for one purpose, on one lawful basis, field by field."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"

    class Frequency(models.TextChoices):
        ON_DEMAND = "on_demand", "On demand"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Delivery(models.TextChoices):
        API = "api", "API pull"
        EXPORT = "export", "Scheduled export"
        WEBHOOK = "webhook", "Signed webhook"

    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="+")
    activity = models.ForeignKey(ProcessingActivity, on_delete=models.PROTECT, related_name="+")
    purpose = models.TextField()
    lawful_basis = models.CharField(max_length=8, choices=LawfulBasis.choices)
    special_condition = models.CharField(max_length=8, choices=SpecialCondition.choices, blank=True)
    categories = ArrayField(models.CharField(max_length=80), help_text="Data category codes")
    fields = ArrayField(models.CharField(max_length=80), help_text="Released fields, as record-type.field")
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.ON_DEMAND)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.API)
    review_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    privacy = NoPersonalData("the terms of a flow between organisations")

    class Meta:
        indexes = [models.Index(fields=["school", "recipient", "status"], name="sharing_flow_school_recipient")]

    def __str__(self) -> str:
        return f"{self.recipient} – {self.purpose[:40]} ({self.get_status_display()})"


class DataFlowEvent(TenantModel):
    """The flow's status history: who changed it, when and why."""

    flow = models.ForeignKey(DataFlow, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=10, choices=DataFlow.Status.choices)
    actor_label = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={"actor_label": "school_user.account"},
        not_personal={"id", "school", "flow", "status", "at", "note"},
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["school", "flow"], name="sharing_flowevent_flow")]


class Disclosure(TenantModel):
    """One release of records to a recipient: what, how many, which versions, and whose data."""

    class Channel(models.TextChoices):
        API = "api", "API"
        EXPORT = "export", "Export"
        WEBHOOK = "webhook", "Webhook"
        PROVISIONING = "provision", "Account provisioning"
        SIGN_IN = "sign_in", "App sign-in"

    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="+")
    flows = ArrayField(models.BigIntegerField(), help_text="The approved flows that released these records")
    record_type = models.CharField(max_length=30)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    record_count = models.PositiveIntegerField()
    version_from = models.BigIntegerField()
    version_to = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now)
    record_ids = ArrayField(models.CharField(max_length=100), help_text="Source ids of the records released")
    subject_ids = ArrayField(
        models.CharField(max_length=100), help_text="Source ids of the learners, contacts and staff concerned"
    )

    privacy = PersonalData(
        subject="learner",
        fields={"record_ids": "learner.identity", "subject_ids": "learner.identity"},
        not_personal={
            "id",
            "school",
            "recipient",
            "flows",
            "record_type",
            "channel",
            "record_count",
            "version_from",
            "version_to",
            "at",
        },
    )

    class Meta:
        indexes = [
            models.Index(fields=["school", "at"], name="sharing_disclosure_time"),
            GinIndex(fields=["subject_ids"], name="sharing_disclosure_subjects"),
        ]


class DeliveryTarget(TenantModel):
    """Where a flow's scheduled export or signed webhook goes (the recipient's settings, kept by the school)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"
        # Written by the app that registered it (`core.flow_formats`), for flows of its service only.
        ONEROSTER_CSV = "oneroster-csv", "OneRoster 1.2 CSV zip (rostering flows)"

    flow = models.OneToOneField(DataFlow, on_delete=models.CASCADE, related_name="delivery_target")
    export_folder = models.TextField(blank=True, help_text="Drop folder the export files are written to")
    export_format = models.CharField(max_length=20, choices=Format.choices, default=Format.CSV)
    webhook_url = models.URLField(max_length=500, blank=True)
    # The HMAC key, sealed (core/sealed.py): it must be usable to sign, so it cannot be hashed.
    webhook_secret = models.TextField(blank=True)

    privacy = NoPersonalData("where and how an organisation receives a flow")

    class Meta:
        indexes = [models.Index(fields=["school", "flow"], name="sharing_target_flow")]


class FlowDelivery(TenantModel):
    """How far (in change versions) a flow's records of one type have been delivered."""

    flow = models.ForeignKey(DataFlow, on_delete=models.CASCADE, related_name="deliveries")
    record_type = models.CharField(max_length=30)
    delivered_to_version = models.BigIntegerField(default=0)
    # A registered file format (`core.flow_formats`) reads no change feed: it delivers what was
    # modified after a time, kept here under its format code as `record_type`.
    delivered_to_time = models.DateTimeField(null=True, blank=True)

    privacy = NoPersonalData("a delivery watermark: flow, record type and change version")

    class Meta:
        # The unique constraint's index leads with school and serves every lookup.
        constraints = [
            models.UniqueConstraint(fields=["school", "flow", "record_type"], name="one_delivery_per_flow_type")
        ]


class DeliveryAttempt(TenantModel):
    """One run of a flow's export or webhook delivery, and how it ended."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    flow = models.ForeignKey(DataFlow, on_delete=models.CASCADE, related_name="delivery_attempts")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    attempt = models.PositiveIntegerField(default=1, help_text="1 + failed attempts since the last success")
    detail = models.TextField(blank=True, help_text="Why the attempt failed")
    record_count = models.PositiveIntegerField(default=0)
    target = models.TextField(blank=True, help_text="The folder or URL delivered to")

    privacy = NoPersonalData("the outcome of a delivery run: counts, times and the target")

    class Meta:
        indexes = [models.Index(fields=["school", "flow", "started_at"], name="sharing_attempt_flow_time")]


# Which status may follow which: a new status -> the statuses a flow may have before it. The
# services enforce it; the flow page offers only these moves (here so both can read it).
FLOW_TRANSITIONS: dict[str, frozenset[str]] = {
    DataFlow.Status.APPROVED: frozenset({DataFlow.Status.REQUESTED, DataFlow.Status.SUSPENDED}),
    DataFlow.Status.DECLINED: frozenset({DataFlow.Status.REQUESTED}),
    DataFlow.Status.SUSPENDED: frozenset({DataFlow.Status.APPROVED}),
    DataFlow.Status.REVOKED: frozenset(
        {DataFlow.Status.APPROVED, DataFlow.Status.SUSPENDED, DataFlow.Status.REQUESTED}
    ),
}
