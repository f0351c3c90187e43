"""Parent portal: accounts of parents and carers, their links to contacts, and what schools share.

A parent's account is not a staff `User`: it never reaches the back office, has its own
sign-in and may hold links to contacts in several schools. A `ParentLink` ties the account to
one contact (by MIS source id) in one school; which children the parent sees is worked out on
every request from the MIS learner–contact links with parental responsibility, so a link the
MIS removes, or a learner who leaves, ends access at once.
"""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData, PersonalData
from steward.tenancy.models import Organisation, TenantModel, User

NOTIFICATION_KINDS = (
    ("homework", "New homework"),
    ("behaviour", "Behaviour events"),
    ("achievement", "Achievements"),
    ("attendance", "Absence and late marks"),
)


class ParentAccount(models.Model):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    password = models.CharField(max_length=200, help_text="Argon2 hash")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    totp_key = models.CharField(max_length=80, blank=True, help_text="hex; empty when two-factor is off")
    totp_confirmed = models.BooleanField(default=False)
    totp_last_t = models.BigIntegerField(default=-1, help_text="last time step used, so a code works once")
    notify_kinds = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    notify_by_email = models.BooleanField(default=True)
    notify_by_push = models.BooleanField(default=False)
    analytics_cookies = models.BooleanField(null=True, blank=True, help_text="None until the parent chooses")

    privacy = PersonalData(
        subject="parent_user",
        fields={
            "email": "parent_user.account",
            "full_name": "parent_user.account",
            "password": "parent_user.account",  # a data category code, not a password  # nosec B105
            "created_at": "parent_user.account",
            "last_sign_in_at": "parent_user.account",
            "closed_at": "parent_user.account",
            "totp_key": "parent_user.account",
            "totp_confirmed": "parent_user.account",
            "totp_last_t": "parent_user.account",
            "notify_kinds": "parent_user.preferences",
            "notify_by_email": "parent_user.preferences",
            "notify_by_push": "parent_user.preferences",
            "analytics_cookies": "parent_user.preferences",
        },
        not_personal={"id", "is_active"},
    )

    def __str__(self) -> str:
        return self.full_name or self.email

    def set_password(self, raw: str) -> None:
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        return check_password(raw, self.password)

    @property
    def two_factor(self) -> bool:
        return bool(self.totp_key) and self.totp_confirmed


class ParentLink(models.Model):
    """The account stands for this contact of this school (not tenant-scoped, like `Membership`:
    it is what tells the portal which schools to scope a parent's request to).

    Row-level security still guards it (portal migration 0002): a school's links in its scope,
    every link under the processor scope, and one account's own links through
    `steward_parent_school_ids`, which the portal reads before any school scope exists."""

    parent = models.ForeignKey(ParentAccount, on_delete=models.CASCADE, related_name="links")
    school = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact_source_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    restricted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Art. 18 restriction asked of this school: the portal shows and sends nothing through this link",
    )

    privacy = PersonalData(
        subject="parent_user",
        fields={
            "parent": "parent_user.account",
            "school": "parent_user.account",
            "contact_source_id": "parent_user.account",
            "created_at": "parent_user.account",
            "restricted_at": "parent_user.account",
        },
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "contact_source_id"], name="portal_one_account_per_contact")
        ]

    def __str__(self) -> str:
        return f"{self.parent} as contact {self.contact_source_id}"


class PortalInvitation(TenantModel):
    """A single-use, expiring invitation sent to a contact's email address."""

    contact_source_id = models.CharField(max_length=100)
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret in the link")
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="contact",
        fields={"contact_source_id": "contact.identity", "email": "contact.contact_details"},
        not_personal={
            "id",
            "school",
            "token_hash",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        },
    )

    class Meta:
        indexes = [models.Index(fields=["school", "contact_source_id"], name="portal_invitation_contact")]

    @property
    def usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class PortalSettings(TenantModel):
    """Which switchable items a school shows parents (everything switchable starts off)."""

    show_photo = models.BooleanField("School photo", default=False)
    show_diary = models.BooleanField("School diary", default=False)
    show_session_attendance = models.BooleanField("Attendance", default=False)
    show_lesson_attendance = models.BooleanField("Lesson attendance", default=False)
    show_achievements = models.BooleanField("Achievements", default=False)
    show_behaviour = models.BooleanField("Behaviour", default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    privacy = NoPersonalData("a school's choices of what its portal shows")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school"], name="portal_settings_one_per_school")]


class PushSubscription(models.Model):
    """A browser's Web Push subscription (endpoint and keys) for one parent account."""

    parent = models.ForeignKey(ParentAccount, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="parent_user",
        fields={
            "parent": "parent_user.preferences",
            "endpoint": "parent_user.preferences",
            "p256dh": "parent_user.preferences",
            "auth": "parent_user.preferences",
            "created_at": "parent_user.preferences",
        },
    )

    def __str__(self) -> str:
        return f"push subscription of {self.parent}"


class PortalNotification(TenantModel):
    """A summary sent to a parent (kept so the school can see what went, and to send it once)."""

    parent = models.ForeignKey(ParentAccount, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    learner_source_id = models.CharField(max_length=100)
    record_source_id = models.CharField(max_length=100)
    summary = models.CharField(max_length=200)
    channels = ArrayField(models.CharField(max_length=10), default=list)
    created_at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="parent_user",
        fields={
            "parent": "parent_user.preferences",
            "learner_source_id": "learner.identity",
            "summary": "learner.identity",
            "channels": "parent_user.preferences",
            "created_at": "parent_user.preferences",
        },
        not_personal={"id", "school", "kind", "record_source_id"},
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "parent", "kind", "learner_source_id", "record_source_id"],
                name="portal_notification_once",
            )
        ]


class PortalPageViews(models.Model):
    """Aggregate, consented page-view counts: no visitor identifiers are stored."""

    day = models.DateField()
    page = models.CharField(max_length=50)
    views = models.PositiveIntegerField(default=0)
    new_visitors = models.PositiveIntegerField(default=0)

    privacy = NoPersonalData("daily counts per page, with no identifiers")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "page"], name="portal_pageviews_day_page")]

    def __str__(self) -> str:
        return f"{self.page} on {self.day}: {self.views}"
