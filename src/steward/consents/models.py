"""A school's consents to share copies of its data, its data agreements of use, the
pseudonymised copies made under them, and the processor's own marketing preferences.

Consents and agreements are the school's decisions (tenant rows behind row-level security);
they are kept after they end, withdrawn or expired, because they are the record that shows a
copy was lawful when it was made (Art. 5(2)). Marketing preferences belong to the processor,
which is the controller of its own mailing list, so they are not tenant rows.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import PersonalData
from steward.tenancy.models import TenantModel, User


class Consent(TenantModel):
    """A school's consent to share a copy of its data with the processor or the MIS vendor."""

    class Purpose(models.TextChoices):
        INVESTIGATION = "investigation", "Investigating a fault"

    class Kind(models.TextChoices):
        STANDING = "standing", "Standing (every ticket until withdrawn or expired)"
        PER_TICKET = "per_ticket", "One ticket only"

    class Recipient(models.TextChoices):
        PROCESSOR = "processor", "The ICT service (processor)"
        MIS_VENDOR = "mis_vendor", "The MIS vendor's service desk"

    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.INVESTIGATION)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    recipient = models.CharField(max_length=10, choices=Recipient.choices)
    vendor_name = models.CharField(max_length=200, blank=True, help_text="The named vendor, for the MIS vendor")
    ticket_reference = models.CharField(max_length=40, blank=True, help_text="For a per-ticket consent")
    record_types = ArrayField(models.CharField(max_length=30), help_text="MIS record types the copy may hold")
    categories = ArrayField(
        models.CharField(max_length=60), default=list, blank=True, help_text="Register categories, if narrower"
    )
    given_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "given_by": "audit.activity",
            "given_at": "audit.activity",
            "withdrawn_by": "audit.activity",
            "withdrawn_at": "audit.activity",
        },
        not_personal={
            "id",
            "school",
            "purpose",
            "kind",
            "recipient",
            "vendor_name",
            "ticket_reference",
            "record_types",
            "categories",
            "expires_at",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "purpose", "recipient"], name="consents_consent_lookup")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="standing") & models.Q(ticket_reference=""))
                | (models.Q(kind="per_ticket") & ~models.Q(ticket_reference="")),
                name="consent_ticket_only_per_ticket",
            ),
            models.CheckConstraint(
                condition=models.Q(recipient="processor") | ~models.Q(vendor_name=""),
                name="consent_vendor_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} consent for {self.get_recipient_display()}"

    def in_force_at(self, when: dt.datetime) -> bool:
        return (
            self.withdrawn_at is None and self.given_at <= when and (self.expires_at is None or when < self.expires_at)
        )

    def covers(self, record_type: str, category: str | None = None) -> bool:
        """Whether a copy may hold this record type (and category, when the consent names categories)."""
        if record_type not in self.record_types:
            return False
        return category is None or not self.categories or category in self.categories


class DataUseAgreement(TenantModel):
    """A school's agreement that the processor's team may use a pseudonymised copy for development
    and test: which record types, for what, until when; special categories only when named."""

    record_types = ArrayField(models.CharField(max_length=30))
    special_categories = ArrayField(
        models.CharField(max_length=60),
        default=list,
        blank=True,
        help_text="Special-category codes the copy may keep (pseudonymised); removed unless named",
    )
    purpose = models.CharField(max_length=300)
    recipient = models.CharField(max_length=200, help_text="The processor's team that receives the copy")
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)
    starts_on = models.DateField()
    expires_on = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The HMAC key of this agreement's pseudonyms. It stays here, with the originals, and never
    # goes into a copy: whoever holds a copy cannot test guesses against it.
    secret_key = models.CharField(max_length=64, editable=False)

    privacy = PersonalData(
        subject="school_user",
        fields={"signed_by": "audit.activity", "signed_at": "audit.activity"},
        not_personal={
            "id",
            "school",
            "record_types",
            "special_categories",
            "purpose",
            "recipient",
            "starts_on",
            "expires_on",
            "revoked_at",
            "secret_key",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "expires_on"], name="consents_dua_expiry")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__gte=models.F("starts_on")), name="dua_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"Data use agreement {self.pk} ({self.starts_on} to {self.expires_on})"

    def in_force_on(self, day: dt.date) -> bool:
        return self.revoked_at is None and self.starts_on <= day <= self.expires_on


class PseudonymisedCopy(TenantModel):
    """One pseudonymised copy made under an agreement: the accountability record of the copy."""

    agreement = models.ForeignKey(DataUseAgreement, on_delete=models.PROTECT, related_name="copies")
    schema_name = models.CharField(max_length=63)
    made_by = models.CharField(max_length=200, help_text="Who ran the command")
    made_at = models.DateTimeField(default=timezone.now)
    row_counts = models.JSONField(default=dict, help_text="Rows copied, by record type")

    privacy = PersonalData(
        subject="school_user",
        fields={"made_by": "audit.activity"},
        not_personal={"id", "school", "agreement", "schema_name", "made_at", "row_counts"},
    )

    class Meta:
        indexes = [models.Index(fields=["school", "made_at"], name="consents_copy_made")]

    def __str__(self) -> str:
        return f"Pseudonymised copy in {self.schema_name}"


class MarketingPreference(models.Model):
    """One opt-in or opt-out by a Steward user for one channel of the processor's own mailings.

    Rows are only added: the newest per user and channel is the preference in force, and the
    earlier ones are the proof of when and how each choice was made (PECR reg. 22, Art. 7(1)).
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"

    class Source(models.TextChoices):
        ACCOUNT_PAGE = "account_page", "The user's account page"
        UNSUBSCRIBE = "unsubscribe", "An unsubscribe request"
        STAFF = "staff", "Recorded by the ICT service's staff"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="marketing_preferences")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    opted_in = models.BooleanField()
    source = models.CharField(max_length=20, choices=Source.choices)
    recorded_at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "user": "school_user.marketing",
            "channel": "school_user.marketing",
            "opted_in": "school_user.marketing",
            "source": "school_user.marketing",
            "recorded_at": "school_user.marketing",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["user", "channel", "-recorded_at"], name="consents_marketing_latest")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.channel}: {'in' if self.opted_in else 'out'}"
