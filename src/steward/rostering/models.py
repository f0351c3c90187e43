"""Apps staff sign in to through Steward (OpenID Connect), and what each person agreed to give them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData, PersonalData
from steward.register.models import Recipient
from steward.tenancy.models import TenantModel


class SignInApp(models.Model):
    """An OpenID Connect client the processor registered, tied to the register's recipient: a
    school's approved `rostering` flow to that recipient is what lets its staff sign in to it."""

    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="+")
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="sign_in_app"
    )
    name = models.CharField(max_length=150)

    privacy = NoPersonalData("apps registered by the processor")

    def __str__(self) -> str:
        return self.name


class SignInConsent(TenantModel):
    """One person's answer, at one school, to "give this app these details?". The newest answer
    counts; a yes stands until withdrawn or until the flow releases other claims (then asked again)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(SignInApp, on_delete=models.CASCADE, related_name="+")
    given = models.BooleanField()
    claims = ArrayField(models.CharField(max_length=40), help_text="The claims the person was shown")
    at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="school_user",
        fields=dict.fromkeys(["user", "app", "given", "claims", "at", "withdrawn_at"], "school_user.sign_in"),
        not_personal={"id", "school"},
    )

    class Meta:
        indexes = [models.Index(fields=["school", "user", "app"], name="rostering_consent_user_app")]


class SignInToken(TenantModel):
    """Which school and consent an access token was issued under, so userinfo answers for that
    school (a person may use one app at two schools) and stops when the consent or flow ends."""

    consent = models.ForeignKey(SignInConsent, on_delete=models.CASCADE, related_name="+")
    access_token = models.OneToOneField(
        settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, related_name="sign_in"
    )

    privacy = NoPersonalData("links a token to the consent it was issued under; the token's owner is on the token")

    class Meta:
        indexes = [models.Index(fields=["school", "consent"], name="rostering_token_consent")]
