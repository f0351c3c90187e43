"""Every staff and parent session: when it started and was last used, from where, on what, and how it ended.

Django's own session row (`django_session`) is what signs a browser in; these rows are the record a
person reads on *Your sessions* and the handle by which a session is ended. The session key is never
stored: only its SHA-256 (`key_hash`), so a copy of this table signs nobody in. Staff and parents are
two tables because they are two kinds of data subject in the register; both share `TrackedSession`.

Neither is a tenant table: a staff account may belong to several schools (and processor staff to
none) and a parent account to several schools, like `tenancy.User` and its sign-in factors, which
have no row-level security either. A school administrator's view is scoped in the query to users
with a membership of that school (`selectors.school_staff_sessions`).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from steward.register.classification import PersonalData
from steward.tenancy.models import User


class EndReason(models.TextChoices):
    SIGNED_OUT = "signed_out", "Signed out"
    ENDED_BY_PERSON = "ended_by_person", "Ended by the person"
    ENDED_BY_ADMIN = "ended_by_admin", "Ended by an administrator"
    IDLE = "idle", "No activity for too long"
    ABSOLUTE = "absolute", "Reached the longest time a session may last"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    TWO_FACTOR_OFF = "two_factor_off", "Two-factor sign-in turned off or reset"
    ACCOUNT_CLOSED = "account_closed", "Account closed"


class Kind(models.TextChoices):
    STAFF = "staff", "Staff"
    PARENT = "parent", "Parent"


_SIGN_IN_FIELDS = (
    "key_hash",
    "started_at",
    "last_seen_at",
    "ended_at",
    "ended_why",
    "ended_by",
    "ip_address",
    "country_code",
    "country_name",
    "network",
    "device",
    "user_agent",
)


class TrackedSession(models.Model):
    key_hash = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the session key, in hex")
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, help_text="Updated at most once a minute")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_why = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    ended_by = models.CharField(max_length=200, blank=True, help_text="Who ended it, when not the person or a limit")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    country_code = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2; empty when unknown")
    country_name = models.CharField(max_length=100, blank=True)
    network = models.CharField(max_length=200, blank=True, help_text="The network's owner (ASN name) or its prefix")
    device = models.CharField(max_length=200, blank=True, help_text="Browser and system, from the user agent")
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def place(self) -> str:
        """The approximate place in plain words: a country, or why there is none."""
        return self.country_name or "Unknown (a private or unlisted network)"


class StaffSession(TrackedSession):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")

    privacy = PersonalData(
        subject="school_user",
        fields={"user": "school_user.sign_in", **dict.fromkeys(_SIGN_IN_FIELDS, "school_user.sign_in")},
    )

    class Meta:
        indexes = [models.Index(fields=["user", "started_at"], name="staffsession_user_started")]

    def __str__(self) -> str:
        return f"staff session {self.pk} of user {self.user_id}"


class ParentSession(TrackedSession):
    # The portal's account id: no foreign key, because the portal sits above this app in the layers.
    # Closing or erasing the account deletes these rows through `services.forget_parent`.
    parent_id = models.BigIntegerField(db_index=True)

    privacy = PersonalData(
        subject="parent_user",
        fields={"parent_id": "parent_user.sign_in", **dict.fromkeys(_SIGN_IN_FIELDS, "parent_user.sign_in")},
    )

    class Meta:
        indexes = [models.Index(fields=["parent_id", "started_at"], name="parentsession_parent_started")]

    def __str__(self) -> str:
        return f"parent session {self.pk} of parent account {self.parent_id}"
