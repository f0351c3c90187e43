"""Organisations (the processor, trusts, schools), contracts, people and their roles.

`TenantModel` is the base of every table that holds one school's data: it carries a non-null
`school` and a default manager that only sees the schools of the current `tenant_scope`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django_otp.models import Device

from steward.register.classification import NoPersonalData, PersonalData
from steward.tenancy.scope import current_school_ids


class Organisation(models.Model):
    class Kind(models.TextChoices):
        PROCESSOR = "processor", "ICT service (processor)"
        TRUST = "trust", "Trust"
        SCHOOL = "school", "School"

    class Phase(models.TextChoices):
        NURSERY = "nursery", "Nursery"
        PRIMARY = "primary", "Primary"
        MIDDLE = "middle", "Middle"
        SECONDARY = "secondary", "Secondary"
        ALL_THROUGH = "all_through", "All-through"
        SPECIAL = "special", "Special"
        ALTERNATIVE = "alternative", "Alternative provision"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200)
    urn = models.PositiveIntegerField(null=True, blank=True, unique=True, help_text="DfE unique reference number")
    la_code = models.CharField(max_length=3, blank=True, help_text="Local-authority code, e.g. 881")
    establishment_number = models.CharField(max_length=4, blank=True, help_text="DfE establishment number")
    phase = models.CharField(max_length=15, choices=Phase.choices, blank=True)
    trust = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="academies",
        limit_choices_to={"kind": "trust"},
    )
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    email = models.EmailField(blank=True, help_text="The organisation's office address, not a person's")
    created_at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("organisations, their office addresses and identifiers")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="school")
                | (models.Q(urn__isnull=False) & ~models.Q(la_code="") & ~models.Q(establishment_number="")),
                name="school_has_dfe_identifiers",
            ),
            models.UniqueConstraint(
                fields=["la_code", "establishment_number"],
                condition=models.Q(kind="school"),
                name="unique_dfe_number",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dfe_number(self) -> str:
        """LA code and establishment number, as on a CTF header (e.g. 881/2001)."""
        return f"{self.la_code}/{self.establishment_number}" if self.la_code else ""


class Contract(models.Model):
    """Which services a school buys from the processor, and for how long.

    Held by the processor as its own business record (no personal data), so it is not behind
    row-level security; school users read their own through `selectors.contracts_for_school`.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ENDING = "ending", "Ending (notice given)"
        ENDED = "ended", "Ended"

    school = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="contracts", limit_choices_to={"kind": "school"}
    )
    processor = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="contracts_as_processor",
        limit_choices_to={"kind": "processor"},
    )
    reference = models.CharField(max_length=40, unique=True)
    services = ArrayField(models.CharField(max_length=30))
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)

    privacy = NoPersonalData("contract terms between organisations")

    class Meta:
        ordering = ["school__name", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="contract_ends_after_start",
            )
        ]
        indexes = [models.Index(fields=["school", "status"])]

    def __str__(self) -> str:
        return f"{self.reference}: {self.school}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: processor staff, school staff (admins, DPOs) and, later, parents."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use Django's admin site (not used by Steward)")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    privacy = PersonalData(
        subject="school_user",
        fields={
            "email": "school_user.account",
            "full_name": "school_user.account",
            "password": "school_user.account",  # a data category code, not a password  # nosec B105
            "last_login": "school_user.sign_in",
            "date_joined": "school_user.account",
        },
        not_personal={"id", "is_active", "is_staff", "is_superuser"},
    )

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.full_name or self.email


class SignInProviderFactor(Device):  # type: ignore[misc]  # django-otp is untyped
    """ "This person's second factor was checked by an identity provider" as django-otp sees it.

    A staff member whose Microsoft 365 or Google sign-in asserted several factors (`amr`) is
    verified for the session like one who typed a TOTP code: django-otp keeps a device's id in
    the session and its middleware loads that device on every request, so the session points at
    one of these (one per person and provider, made at first use). It can check no code
    (`verify_token` is django-otp's default, always false), so it never stands in for the code
    step; deleting the user or the row ends the sessions that rest on it.
    """

    # Declared again without a reverse accessor: django-otp is untyped, so mypy could not resolve one.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=50, help_text="The provider's key in STEWARD_SIGN_IN_PROVIDERS")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "user": "school_user.authenticator",
            "name": "school_user.authenticator",
            "provider": "school_user.authenticator",
            "last_used_at": "school_user.sign_in",
        },
        not_personal={"id", "confirmed", "created_at"},
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="one_factor_per_user_and_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.user_id}"


class Role(models.TextChoices):
    PROCESSOR_ADMIN = "processor_admin", "Processor administrator"
    PROCESSOR_SUPPORT = "processor_support", "Processor support"
    SCHOOL_ADMIN = "school_admin", "School administrator"
    SCHOOL_DPO = "school_dpo", "School data protection officer"


PROCESSOR_ROLES = frozenset({Role.PROCESSOR_ADMIN, Role.PROCESSOR_SUPPORT})
SCHOOL_ROLES = frozenset({Role.SCHOOL_ADMIN, Role.SCHOOL_DPO})
ROLES_REQUIRING_2FA = PROCESSOR_ROLES | SCHOOL_ROLES


class Membership(models.Model):
    """A user's role in one organisation. A user may hold several, in several schools."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)
    restricted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Art. 18 restriction asked of this organisation: the role grants nothing until it is lifted",
    )

    privacy = PersonalData(
        subject="school_user",
        fields={
            "user": "school_user.role",
            "organisation": "school_user.role",
            "role": "school_user.role",
            "created_at": "school_user.role",
            "restricted_at": "school_user.role",
        },
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="unique_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} at {self.organisation}"


class TenantManager(models.Manager[Any]):
    """Sees only the rows of the schools in the current tenant scope (and refuses outside one)."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return super().get_queryset().filter(school_id__in=current_school_ids())


class TenantModel(models.Model):
    """Base of every table that holds one school's data (row-level security on in its migration)."""

    # No index of its own: every tenant table has a composite index that leads with `school`.
    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+", db_index=False)

    objects: ClassVar[TenantManager] = TenantManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"


class DataProtectionContact(TenantModel):
    """Who at the school (the controller) answers for data protection: printed on its notices."""

    class Kind(models.TextChoices):
        DPO = "dpo", "Data protection officer"
        DATA_LEAD = "data_lead", "Data protection lead"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=150)
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True)

    privacy = PersonalData(
        subject="staff",
        fields={"name": "staff.work_contact", "email": "staff.work_contact", "phone": "staff.work_contact"},
        not_personal={"id", "school", "kind"},
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school", "kind"], name="one_contact_per_kind")]
        indexes = [models.Index(fields=["school", "kind"], name="dpcontact_school_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class ApiClient(models.Model):
    """An OAuth 2.0 client (client credentials) and what it may do: an MIS agent writes one school's
    data; a recipient reads what approved flows release to it."""

    class Kind(models.TextChoices):
        MIS_AGENT = "mis_agent", "MIS agent"
        RECIPIENT = "recipient", "Recipient"

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="steward_client"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    school = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The one school an MIS agent writes for",
    )
    recipient_code = models.CharField(max_length=60, blank=True, help_text="Register recipient, for recipients")
    created_at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("machine clients of organisations")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="mis_agent") & models.Q(school__isnull=False))
                | (models.Q(kind="recipient") & ~models.Q(recipient_code="")),
                name="api_client_bound",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.application.client_id}"


class SupportWindow(models.Model):
    """A processor user's time-boxed entry to one school's rows, under a grant the school gave.

    The service desk's support-access grant (`servicedesk.SupportGrant`) opens and closes it; tenancy
    only holds it, because row-level security reads it: `steward_current_school_ids()` adds this
    window's school while the request names the window *and* its user, the window is not closed and
    the database's clock is inside `[starts_at, ends_at)`. So a grant that has ended (expired,
    revoked, its ticket closed) opens nothing, whatever the application asks. It has no row-level
    security of its own (the policy function reads it, which would recurse) and holds only ids and
    times: who and why are on the grant, behind the school's wall.
    """

    school = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    grant_reference = models.CharField(max_length=40)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # What the grant lets the user read: back-office areas ("search", "flows", ...) and MIS record
    # types ("learners", ...). The back office refuses every other page; the database opens the whole
    # school, so the page-level rule is the application's (`backoffice.access`).
    areas = ArrayField(models.CharField(max_length=40), default=list, blank=True)

    privacy = NoPersonalData("ids and times of a support grant; who and why are on servicedesk.SupportGrant")

    class Meta:
        indexes = [models.Index(fields=["user", "ends_at"], name="tenancy_supportwindow_user")]

    def __str__(self) -> str:
        return f"{self.grant_reference} until {self.ends_at:%Y-%m-%d %H:%M}"
