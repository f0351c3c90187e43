"""The processing register (UK GDPR Art. 30): what is processed, why, on which basis, for whom.

These rows are the processor's record, shared by every school; a school's own register is the
activities of the services in its contracts (`tenancy.selectors.activities_for_school`). Nothing
here is tenant data: the published versions of each school's notices are `notices.NoticeVersion`.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from steward.register.classification import NoPersonalData


class LawfulBasis(models.TextChoices):
    CONSENT = "6.1.a", "Art. 6(1)(a) consent"
    CONTRACT = "6.1.b", "Art. 6(1)(b) contract"
    LEGAL_OBLIGATION = "6.1.c", "Art. 6(1)(c) legal obligation"
    VITAL_INTERESTS = "6.1.d", "Art. 6(1)(d) vital interests"
    PUBLIC_TASK = "6.1.e", "Art. 6(1)(e) public task"
    LEGITIMATE_INTERESTS = "6.1.f", "Art. 6(1)(f) legitimate interests"


class SpecialCondition(models.TextChoices):
    EXPLICIT_CONSENT = "9.2.a", "Art. 9(2)(a) explicit consent"
    EMPLOYMENT = "9.2.b", "Art. 9(2)(b) employment, social security and social protection"
    VITAL_INTERESTS = "9.2.c", "Art. 9(2)(c) vital interests"
    LEGAL_CLAIMS = "9.2.f", "Art. 9(2)(f) legal claims"
    SUBSTANTIAL_PUBLIC_INTEREST = "9.2.g", "Art. 9(2)(g) substantial public interest"
    HEALTH_OR_SOCIAL_CARE = "9.2.h", "Art. 9(2)(h) health or social care"
    ARCHIVING = "9.2.j", "Art. 9(2)(j) archiving, research and statistics"


class DataSubjectType(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    privacy = NoPersonalData("register definitions")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DataCategory(models.Model):
    code = models.CharField(max_length=80, unique=True, help_text="Dotted code, e.g. learner.special.ethnicity")
    name = models.CharField(max_length=150)
    description = models.TextField()
    subject_type = models.ForeignKey(DataSubjectType, on_delete=models.PROTECT, related_name="categories")
    special_category = models.BooleanField(
        default=False, help_text="Special category under Art. 9 (e.g. ethnicity, religion, health)"
    )

    privacy = NoPersonalData("register definitions")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "data categories"

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class PlaceOfProcessing(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=150)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    description = models.TextField()

    privacy = NoPersonalData("register definitions")

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    class Kind(models.TextChoices):
        LA_SERVICE = "la_service", "Local-authority service"
        SUPPLIER = "supplier", "Third-party supplier"
        SUB_PROCESSOR = "sub_processor", "Sub-processor"

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=150)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField()
    country = models.CharField(max_length=2, help_text="Where the recipient processes data (ISO 3166-1)")
    transfer_safeguard = models.TextField(
        blank=True, help_text="Required where the country is outside the UK/EEA (e.g. IDTA, adequacy)"
    )

    privacy = NoPersonalData("register definitions")

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def outside_uk_eea(self) -> bool:
        from steward.register.countries import in_uk_or_eea

        return not in_uk_or_eea(self.country)

    @property
    def may_receive(self) -> bool:
        """A recipient outside the UK/EEA may receive data only under a recorded safeguard."""
        return not self.outside_uk_eea or bool(self.transfer_safeguard.strip())


class ProcessingActivity(models.Model):
    """One service the processor runs for schools, described as Art. 30 requires."""

    class Service(models.TextChoices):
        HOSTED_MIS = "hosted_mis", "Hosted MIS data"
        PARENT_PORTAL = "parent_portal", "Parent portal"
        DATA_EXCHANGE = "data_exchange", "LA data exchange"
        ROSTERING = "rostering", "Learning platform rostering"
        SERVICE_DESK = "service_desk", "Service desk"

    service = models.CharField(max_length=30, choices=Service.choices, unique=True)
    name = models.CharField(max_length=150)
    description = models.TextField()
    purposes = ArrayField(models.TextField())
    lawful_bases = ArrayField(models.CharField(max_length=8, choices=LawfulBasis.choices))
    lawful_basis_explanation = models.TextField()
    special_conditions = ArrayField(
        models.CharField(max_length=8, choices=SpecialCondition.choices), default=list, blank=True
    )
    special_condition_explanation = models.TextField(blank=True)
    categories = models.ManyToManyField(DataCategory, related_name="activities")
    subject_types = models.ManyToManyField(DataSubjectType, related_name="activities")
    recipients = models.ManyToManyField(Recipient, related_name="activities", blank=True)
    places = models.ManyToManyField(PlaceOfProcessing, related_name="activities")
    security_measures = ArrayField(models.TextField(), default=list)

    privacy = NoPersonalData("register definitions")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "processing activities"

    def __str__(self) -> str:
        return self.name

    @property
    def lawful_basis_labels(self) -> list[str]:
        return [str(LawfulBasis(b).label) for b in self.lawful_bases]

    @property
    def special_condition_labels(self) -> list[str]:
        return [str(SpecialCondition(c).label) for c in self.special_conditions]


class RetentionRule(models.Model):
    """How long an activity keeps a category, counted from a named event."""

    class Trigger(models.TextChoices):
        CONTRACT_END = "contract_end", "after the school's contract ends"
        LEAVING_DATE = "leaving_date", "after the learner or staff member leaves"
        TICKET_RESOLVED = "ticket_resolved", "after the ticket is resolved"
        EVENT_TIME = "event_time", "after the event"
        BACKUP_TAKEN = "backup_taken", "after the backup is taken"
        ACCOUNT_CLOSED = "account_closed", "after the account is closed"

    activity = models.ForeignKey(ProcessingActivity, on_delete=models.CASCADE, related_name="retention_rules")
    category = models.ForeignKey(
        DataCategory,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="retention_rules",
        help_text="Empty: applies to every category of the activity without a rule of its own",
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    period_days = models.PositiveIntegerField()
    description = models.TextField()

    privacy = NoPersonalData("register definitions")

    class Meta:
        ordering = ["activity", "category__code"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "category"], name="one_rule_per_activity_category"),
            models.UniqueConstraint(
                fields=["activity"], condition=models.Q(category__isnull=True), name="one_default_rule_per_activity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_days} days {self.get_trigger_display()}"
