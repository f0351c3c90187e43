"""Field classification: every field of a model that holds personal data names its category.

A model declares, next to its fields,

    privacy = PersonalData(subject="learner", fields={"upn": "learner.identity", ...},
                           not_personal={"id", "school", "content_hash", ...})

or `privacy = NoPersonalData("why")` (both defined in `core.classification`, re-exported here).
Models of third-party apps are classified in `THIRD_PARTY` below.
`tests/register/test_classification.py` walks every installed model and fails for a model with no
classification, a concrete field named in neither set, or a category code the register does not
define.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

from steward.core.classification import NoPersonalData as NoPersonalData
from steward.core.classification import PersonalData as PersonalData

Classification = PersonalData | NoPersonalData

_SYSTEM = {"id"}

# Models we do not own. Each is classified with the same rule as our own.
THIRD_PARTY: dict[str, Classification] = {
    "auth.permission": NoPersonalData("permission definitions"),
    "auth.group": NoPersonalData("role definitions"),
    "contenttypes.contenttype": NoPersonalData("model registry"),
    "sessions.session": PersonalData(
        subject="school_user",
        fields={"session_data": "school_user.sign_in"},
        not_personal={"session_key", "expire_date"},
    ),
    "otp_totp.totpdevice": PersonalData(
        subject="school_user",
        fields={
            "key": "school_user.authenticator",
            "user": "school_user.authenticator",
            "name": "school_user.authenticator",
        },
        not_personal={
            "id",
            "confirmed",
            "step",
            "t0",
            "digits",
            "tolerance",
            "drift",
            "last_t",
            "throttling_failure_timestamp",
            "throttling_failure_count",
            "created_at",
            "last_used_at",
        },
    ),
    "axes.accessattempt": PersonalData(
        subject="school_user",
        fields={
            "username": "school_user.sign_in",
            "ip_address": "school_user.sign_in",
            "user_agent": "school_user.sign_in",
            "http_accept": "school_user.sign_in",
            "path_info": "school_user.sign_in",
            "get_data": "school_user.sign_in",
            "post_data": "school_user.sign_in",
        },
        not_personal={"id", "attempt_time", "failures_since_start"},
    ),
    "axes.accessfailurelog": PersonalData(
        subject="school_user",
        fields={
            "username": "school_user.sign_in",
            "ip_address": "school_user.sign_in",
            "user_agent": "school_user.sign_in",
            "http_accept": "school_user.sign_in",
            "path_info": "school_user.sign_in",
        },
        not_personal={"id", "attempt_time", "locked_out"},
    ),
    "axes.accesslog": PersonalData(
        subject="school_user",
        fields={
            "username": "school_user.sign_in",
            "ip_address": "school_user.sign_in",
            "user_agent": "school_user.sign_in",
            "http_accept": "school_user.sign_in",
            "path_info": "school_user.sign_in",
        },
        not_personal={"id", "attempt_time", "logout_time", "session_hash"},
    ),
    "axes.accessattemptexpiration": NoPersonalData("expiry time of an attempt row"),
    # OAuth clients and tokens are machines'; only the optional `user` link points at a person.
    "oauth2_provider.application": PersonalData(
        subject="school_user",
        fields={"user": "school_user.account"},
        not_personal={
            "created",
            "client_type",
            "redirect_uris",
            "client_secret",
            "hash_client_secret",
            "name",
            "updated",
            "allowed_origins",
            "cimd_expires_at",
            "algorithm",
            "registration_source",
            "skip_authorization",
            "authorization_grant_type",
            "id",
            "post_logout_redirect_uris",
            "client_id",
        },
    ),
    "oauth2_provider.grant": PersonalData(
        subject="school_user",
        fields={"user": "school_user.account"},
        not_personal={
            "created",
            "code_challenge_method",
            "application",
            "nonce",
            "redirect_uri",
            "code_challenge",
            "resource",
            "id",
            "updated",
            "scope",
            "code",
            "expires",
            "claims",
        },
    ),
    "oauth2_provider.accesstoken": PersonalData(
        subject="school_user",
        fields={"user": "school_user.account"},
        not_personal={
            "created",
            "source_refresh_token",
            "application",
            "token_checksum",
            "token",
            "resource",
            "id",
            "updated",
            "scope",
            "id_token",
            "expires",
        },
    ),
    "oauth2_provider.refreshtoken": PersonalData(
        subject="school_user",
        fields={"user": "school_user.account"},
        not_personal={
            "created",
            "application",
            "token_checksum",
            "token",
            "resource",
            "token_family",
            "id",
            "updated",
            "revoked",
            "access_token",
        },
    ),
    "oauth2_provider.idtoken": PersonalData(
        subject="school_user",
        fields={"user": "school_user.account"},
        not_personal={"created", "application", "jti", "id", "updated", "scope", "expires"},
    ),
    "oauth2_provider.devicegrant": PersonalData(
        subject="school_user",
        fields={"user": "school_user.account"},
        not_personal={
            "last_checked",
            "status",
            "interval",
            "id",
            "scope",
            "device_code",
            "client_id",
            "expires",
            "user_code",
        },
    ),
    "django_tasks_database.dbtaskresult": NoPersonalData("task ids and arguments; tasks take ids, never personal data"),
}


def classification_of(model: type[models.Model]) -> Classification | None:
    own = model.__dict__.get("privacy")
    if isinstance(own, PersonalData | NoPersonalData):
        return own
    return THIRD_PARTY.get(model._meta.label_lower)


def unclassified_fields(model: type[models.Model]) -> list[str]:
    """Concrete fields of a personal-data model that appear in neither `fields` nor `not_personal`."""
    classification = classification_of(model)
    if not isinstance(classification, PersonalData):
        return []
    named = set(classification.fields) | classification.not_personal | _SYSTEM
    return [f.name for f in model._meta.concrete_fields if f.name not in named]


def personal_data_models() -> list[tuple[type[models.Model], PersonalData]]:
    found = []
    for model in apps.get_models():
        classification = classification_of(model)
        if isinstance(classification, PersonalData):
            found.append((model, classification))
    return found
