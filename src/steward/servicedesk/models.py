"""The service desk's tickets: a school's request for assistance (RFA), its thread and its history.

A ticket is one school's record (a tenant table behind row-level security): the school sees its
own, and the processor's staff read the queue across schools only through `estate_scope`. The
service-level due instants are stored when the ticket is raised or re-triaged (computed on the
working calendar by `servicedesk.calendar`), so the queue can filter breaches in SQL. Later parts
of issue #15 (investigation copies, support access) hang off `Ticket` by foreign key.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import PersonalData
from steward.tenancy.models import TenantModel


class Category(models.TextChoices):
    MIS_FEED = "mis_feed", "MIS data feed"
    DATA_SHARING = "data_sharing", "Data sharing"
    ACCOUNTS = "accounts", "Accounts and sign-in"
    PARENT_PORTAL = "parent_portal", "Parent portal"
    PRIVACY = "privacy", "Privacy request"
    OTHER = "other", "Something else"


class Urgency(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Status(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS)


class Ticket(TenantModel):
    category = models.CharField(max_length=20, choices=Category.choices)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    summary = models.CharField(max_length=120)
    description = models.TextField()
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    raised_by_label = models.CharField(max_length=200)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    first_response_due = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "raised_by": "school_user.account",
            "raised_by_label": "school_user.account",
            "assignee": "school_user.account",
        },
        # Free text the school writes about a fault; the form asks for no pupil, parent or staff details,
        # and the scanner (`servicedesk.scanner`) warns the writer when it finds UPNs, dates of birth or
        # email addresses in it (a warning: the text is kept as written).
        not_personal={
            "id",
            "school",
            "category",
            "urgency",
            "status",
            "summary",
            "description",
            "created_at",
            "first_response_due",
            "first_responded_at",
            "resolution_due",
            "resolved_at",
            "resolution_note",
            "closed_at",
        },
    )

    class Meta:
        indexes = [
            models.Index(fields=["school", "status", "created_at"], name="servicedesk_ticket_status"),
            models.Index(fields=["school", "resolved_at"], name="servicedesk_ticket_resolved"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """What people quote on the phone and in emails."""
        return f"RFA-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketMessage(TenantModel):
    """One reply in the thread, from the school or from the processor's staff."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    author_label = models.CharField(max_length=200)
    from_processor = models.BooleanField()
    body = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="school_user",
        fields={"author": "school_user.account", "author_label": "school_user.account"},
        not_personal={"id", "school", "ticket", "from_processor", "body", "at"},
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["school", "ticket"], name="servicedesk_message_ticket")]


class TicketEvent(TenantModel):
    """Every change of a ticket's state: who, when, from what to what."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    actor_label = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "actor_label": "school_user.account",
            "from_value": "school_user.account",
            "to_value": "school_user.account",
        },
        not_personal={"id", "school", "ticket", "action", "at"},
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["school", "ticket"], name="servicedesk_event_ticket")]


class CopyStatus(models.TextChoices):
    REQUESTED = "requested", "Awaiting the school's decision"
    REFUSED = "refused", "Refused by the school"
    LIVE = "live", "Made"
    DESTROYED = "destroyed", "Destroyed"


class CopyRecipient(models.TextChoices):
    PROCESSOR = "processor", "The ICT service (processor)"
    MIS_VENDOR = "mis_vendor", "The MIS vendor's service desk"


class InvestigationCopy(TenantModel):
    """A copy of named MIS record types of the school, made for one ticket with the school's consent.

    The row is the accountability record of the copy (who asked, why, who decided, what it held,
    when and why it was destroyed): it is kept after the copy's schema is dropped, and outlives its
    ticket (`ticket` is emptied when the ticket goes; `ticket_reference` stays). The HMAC key of its
    pseudonyms stays here, with the originals, never in the copy; erasure uses it to find a
    person's rows in the copy.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, related_name="copies")
    ticket_reference = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=CopyStatus.choices, default=CopyStatus.REQUESTED)
    reason = models.TextField()
    recipient = models.CharField(max_length=10, choices=CopyRecipient.choices)
    vendor_name = models.CharField(max_length=200, blank=True)
    requested_types = ArrayField(models.CharField(max_length=30))
    identities_requested = models.BooleanField(default=False)
    # Who asked, so that a refusal reaches them (the label stays if the account goes).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_label = models.CharField(max_length=200)
    requested_at = models.DateTimeField(default=timezone.now)
    approved_types = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    real_identities = models.BooleanField(default=False)
    decided_by_label = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True)
    consent = models.ForeignKey("consents.Consent", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    schema_name = models.CharField(max_length=63, blank=True)
    made_at = models.DateTimeField(null=True, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    destroyed_because = models.CharField(max_length=200, blank=True)
    # The proof of its destruction (counts only), kept past the school's purge by retention.
    destruction_proof = models.ForeignKey(
        "retention.RetentionProof", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    secret_key = models.CharField(max_length=64, editable=False)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "requested_by": "audit.activity",
            "requested_by_label": "audit.activity",
            "decided_by_label": "audit.activity",
        },
        # The copy's rows live in its own schema, not in this record; `servicedesk.privacy` reports
        # them in each person's access bundle and erasure deletes them from the live copy.
        not_personal={
            "id",
            "school",
            "ticket",
            "ticket_reference",
            "status",
            "reason",
            "recipient",
            "vendor_name",
            "requested_types",
            "identities_requested",
            "requested_at",
            "approved_types",
            "real_identities",
            "decided_at",
            "refusal_reason",
            "consent",
            "schema_name",
            "made_at",
            "row_counts",
            "destroyed_at",
            "destroyed_because",
            "destruction_proof",
            "secret_key",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "ticket"], name="servicedesk_copy_ticket")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"COPY-{self.pk}"


class CopiedPerson(TenantModel):
    """One learner, contact or member of staff whose rows (or rows about whom) a copy held when it
    was made, by MIS id.

    A destroyed copy holds no rows, yet the person is still owed the fact that their data was copied,
    for which ticket, to whom and when it went (Art. 15(1)(c)). The list is written when the copy is
    made and goes with the copy's record (the school's purge), or with the person when they are erased.
    """

    copy = models.ForeignKey(InvestigationCopy, on_delete=models.CASCADE, related_name="people")
    record_type = models.CharField(max_length=30)
    source_id = models.CharField(max_length=100)

    privacy = PersonalData(
        subject="learner",
        fields={"source_id": "learner.identity"},
        not_personal={"id", "school", "copy", "record_type"},
    )

    class Meta:
        indexes = [models.Index(fields=["school", "record_type", "source_id"], name="servicedesk_copied_person")]
        constraints = [
            models.UniqueConstraint(fields=["copy", "record_type", "source_id"], name="servicedesk_copied_once")
        ]


class GrantStatus(models.TextChoices):
    REQUESTED = "requested", "Awaiting the school's decision"
    ACTIVE = "active", "Access open"
    REFUSED = "refused", "Refused by the school"
    EXPIRED = "expired", "Not answered in time"
    ENDED = "ended", "Ended"
    REVOKED = "revoked", "Revoked by the school"


class SupportGrant(TenantModel):
    """Time-boxed access of one processor user to the school's live data, for one ticket.

    The row is the record of the grant (who asked, why, for what, who decided, when it ran and why it
    ended); the database's wall is its `tenancy.SupportWindow`, opened while the grant is active and
    closed when it ends. An emergency grant starts at once on a processor admin's word for a named
    incident category; the school is told at once and asked to confirm afterwards.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, related_name="grants")
    ticket_reference = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=GrantStatus.choices, default=GrantStatus.REQUESTED)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    user_label = models.CharField(max_length=200)
    reason = models.TextField()
    scope = ArrayField(models.CharField(max_length=30))
    duration_minutes = models.PositiveIntegerField(default=60)
    requested_at = models.DateTimeField(default=timezone.now)
    emergency_category = models.CharField(max_length=20, blank=True)
    decided_by_label = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True)
    confirmed_by_label = models.CharField(max_length=200, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_because = models.CharField(max_length=200, blank=True)
    window = models.ForeignKey("tenancy.SupportWindow", on_delete=models.SET_NULL, null=True, related_name="+")

    privacy = PersonalData(
        subject="school_user",
        fields={
            "user": "audit.activity",
            "user_label": "audit.activity",
            "decided_by_label": "audit.activity",
            "confirmed_by_label": "audit.activity",
        },
        not_personal={
            "id",
            "school",
            "ticket",
            "ticket_reference",
            "status",
            "reason",
            "scope",
            "duration_minutes",
            "requested_at",
            "emergency_category",
            "decided_at",
            "refusal_reason",
            "confirmed_at",
            "starts_at",
            "ends_at",
            "ended_at",
            "ended_because",
            "window",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "status"], name="servicedesk_grant_status")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"GRANT-{self.pk}"


class AttachmentStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    QUARANTINED = "quarantined", "Quarantined by the school"
    REDACTED = "redacted", "Redacted by the school"


class TicketAttachment(TenantModel):
    """A file sent with a ticket or one of its replies; its bytes live outside the web root, in a
    file named by `storage_key` (random, never derived from the uploader's file name).

    `findings` is what the scanner saw in it: counts per kind and masked examples, never the values.
    The school's DPO or admin can quarantine it (only the school can then download it) or, for text
    and CSV, redact it (the findings replaced, the original file deleted). It goes with its ticket.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        TicketMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    file_name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=64, unique=True, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    uploaded_by_label = models.CharField(max_length=200)
    from_processor = models.BooleanField(default=False)
    uploaded_at = models.DateTimeField(default=timezone.now)
    findings = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=AttachmentStatus.choices, default=AttachmentStatus.AVAILABLE)
    status_by_label = models.CharField(max_length=200, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "uploaded_by": "school_user.account",
            "uploaded_by_label": "school_user.account",
            "status_by_label": "audit.activity",
        },
        # The file's content is the school's, like the ticket's description: the scanner warns about
        # pupils' details in it and the school can quarantine or redact it; `findings` holds only
        # counts and masked examples (a UPN's first and last characters, a date's year, an email's domain).
        not_personal={
            "id",
            "school",
            "ticket",
            "message",
            "file_name",
            "kind",
            "content_type",
            "size",
            "sha256",
            "storage_key",
            "from_processor",
            "uploaded_at",
            "findings",
            "status",
            "status_at",
        },
    )

    class Meta:
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["school", "ticket"], name="servicedesk_attachment_ticket")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_quarantined(self) -> bool:
        return self.status == AttachmentStatus.QUARANTINED
