"""Subject rights requests (UK GDPR Arts. 15-21), with their statutory deadlines and history."""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData, PersonalData
from steward.tenancy.models import TenantModel


class RightsRequest(TenantModel):
    class Kind(models.TextChoices):
        ACCESS = "access", "Access (Art. 15)"
        RECTIFICATION = "rectification", "Rectification (Art. 16)"
        ERASURE = "erasure", "Erasure (Art. 17)"
        RESTRICTION = "restriction", "Restriction (Art. 18)"
        PORTABILITY = "portability", "Portability (Art. 20)"
        OBJECTION = "objection", "Objection (Art. 21)"

    class SubjectKind(models.TextChoices):
        LEARNER = "learner", "Learner"
        CONTACT = "contact", "Parent or carer"
        STAFF = "staff", "Staff member"
        SCHOOL_USER = "school_user", "Steward user"
        PARENT_USER = "parent_user", "Parent portal account"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        REFUSED = "refused", "Refused"

    kind = models.CharField(max_length=15, choices=Kind.choices)
    subject_kind = models.CharField(max_length=15, choices=SubjectKind.choices)
    subject_id = models.BigIntegerField(help_text="Row id of the learner, contact, staff member or user")
    subject_label = models.CharField(max_length=200, help_text="How the requester named the subject")
    requested_by = models.CharField(max_length=200, help_text="Who made the request (the subject or on their behalf)")
    requester_email = models.EmailField(blank=True, help_text="Where the answer is emailed; empty: sent by post")
    received_on = models.DateField()
    identity_checked = models.BooleanField(default=False)
    deadline = models.DateField(help_text="One calendar month from receipt (Art. 12(3))")
    extended_deadline = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.RECEIVED)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    forwarded_version = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="A rectification: the subject record's change version when it was forwarded to the MIS",
    )

    privacy = PersonalData(
        subject="learner",
        fields={
            "subject_id": "learner.identity",
            "subject_label": "learner.identity",
            "requested_by": "contact.identity",
            "requester_email": "contact.contact_details",
        },
        not_personal={
            "id",
            "school",
            "kind",
            "subject_kind",
            "received_on",
            "identity_checked",
            "deadline",
            "extended_deadline",
            "extension_reason",
            "status",
            "created_at",
            "completed_at",
            "forwarded_version",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "status", "deadline"], name="rights_request_due")]

    @property
    def due(self) -> dt.date:
        return self.extended_deadline or self.deadline


class RightsRequestEvent(TenantModel):
    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=40)
    actor_label = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={"actor_label": "school_user.account"},
        not_personal={"id", "school", "request", "action", "at", "note"},
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["school", "request"], name="rights_event_request")]


class ErasureNotification(TenantModel):
    """Art. 19: a recipient that had the subject's data is told it was erased (the tombstones follow)."""

    request = models.ForeignKey(RightsRequest, on_delete=models.PROTECT, related_name="notifications")
    recipient = models.ForeignKey("register.Recipient", on_delete=models.PROTECT, related_name="+")
    record_types = ArrayField(models.CharField(max_length=30))
    created_at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("which organisation was told; the subject is the request's")

    class Meta:
        indexes = [models.Index(fields=["school", "request"], name="rights_notification_request")]


class ProofOfDeletion(TenantModel):
    """What an erasure deleted and kept, as counts and reasons: no personal data."""

    request = models.OneToOneField(RightsRequest, on_delete=models.PROTECT, related_name="proof")
    deleted = models.JSONField(help_text="model -> rows deleted")
    kept = models.JSONField(help_text="model -> the legal reason it was kept")
    created_at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("counts per model and reasons")

    class Meta:
        indexes = [models.Index(fields=["school", "created_at"], name="rights_proof_time")]


class WithheldItem(TenantModel):
    """A part of the access bundle the DPO withheld before sending, and why (an exemption such as
    third-party data or safeguarding, DPA 2018 Sch. 2-4). The reason stays in the school's record,
    not in the bundle: saying why can itself disclose what is withheld."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="withheld")
    section = models.CharField(max_length=100, help_text="The bundle section's key (its model label)")
    reason = models.TextField()
    actor_label = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="school_user",
        fields={"actor_label": "school_user.account"},
        not_personal={"id", "school", "request", "section", "reason", "at"},
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "section"], name="rights_withheld_once")]
        indexes = [models.Index(fields=["school", "request"], name="rights_withheld_request")]


class AccessBundlePdf(TenantModel):
    """The PDF of one downloaded access bundle, laid out in the background.

    The bundle's JSON and HTML are written at once; the PDF's HTML (`source`) is written with them,
    from the same document, and WeasyPrint lays it out in a task (`rights.tasks.build_bundle_pdf`),
    so the PDF says exactly what the JSON and HTML downloaded with it say. Only the newest of a
    request is kept: a new download replaces it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="pdfs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.TextField(help_text="The PDF's HTML, written with the bundle it belongs to")
    pdf = models.BinaryField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the PDF could not be made, in words")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields={"source": "learner.identity", "pdf": "learner.identity"},
        not_personal={"id", "school", "request", "status", "error", "created_at", "finished_at"},
    )

    class Meta:
        indexes = [models.Index(fields=["school", "request"], name="rights_pdf_request")]
