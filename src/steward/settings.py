"""Django settings for Steward.

`STEWARD_ENV=production` turns on everything a public deployment needs (HTTPS-only cookies,
HSTS, a secret key from the environment); the default, `development`, serves the demo on
plain HTTP at 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from steward.core import database, files, local_secrets, oidc_keys, sign_in_providers
from steward.core.paths import PROJECT_DIR, VAR_DIR

ENVIRONMENT = os.environ.get("STEWARD_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
TESTING = os.environ.get("STEWARD_TESTING") == "1" or "pytest" in sys.modules


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when STEWARD_ENV=production")
    return local_secrets.read_or_make(VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50).encode())


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("STEWARD_DEBUG") == "1"
# Private hosts or networks Steward may send webhooks or push messages to (comma-separated);
# everything else must be public https (see core/outbound.py).
OUTBOUND_ALLOWED_PRIVATE = [h for h in os.environ.get("STEWARD_OUTBOUND_ALLOWED_PRIVATE", "").split(",") if h]
# Where parents and staff reach Steward: used in links sent by email and push.
STEWARD_BASE_URL = os.environ.get("STEWARD_BASE_URL", "http://127.0.0.1:8000")
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "oauth2_provider",
    "steward.core",
    "steward.tenancy",
    "steward.register",
    "steward.mis",
    "steward.ingest",
    "steward.sharing",
    "steward.rights",
    "steward.portal",
    "steward.consents",
    "steward.retention",
    "steward.provisioning",
    "steward.rostering",
    "steward.servicedesk",
    "steward.signins",
    "steward.monitoring",
    "steward.notices",
    "steward.audit",
    "steward.backoffice",
    "steward.demo",  # last: it loads data through every app above and nothing imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "steward.core.middleware.NoStoreMiddleware",
    "steward.core.middleware.RequestIdMiddleware",
    "steward.core.replicas.PinToPrimaryMiddleware",
    "steward.api.middleware.UploadLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "steward.signins.middleware.SessionLimitsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "steward.tenancy.middleware.TenantScopeMiddleware",
]

ROOT_URLCONF = "steward.urls"
WSGI_APPLICATION = "steward.wsgi.application"
ASGI_APPLICATION = "steward.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "src" / "steward" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "steward.backoffice.context_processors.page_header",
                "steward.portal.cookies.cookie_context",
            ],
            # Every template can turn a code into words (`{{ code|field_label }}`) without a load tag.
            "builtins": ["steward.register.templatetags.labels"],
        },
    },
]

# --- Database: the app connects as steward_app (row-level security applies); migrations as owner.
_OWNER = database.owner_settings()
DATABASES = {"default": database.app_settings(_OWNER), "owner": _OWNER}
# Hot standbys (`core.replicas`): read-only units of work read from one lagging at most this much.
DATABASES.update(database.replica_settings(DATABASES["default"]))
STEWARD_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("STEWARD_REPLICA_MAX_LAG_SECONDS", "30"))
DATABASE_ROUTERS = ["steward.core.routers.MigrateAsOwnerRouter", "steward.core.replicas.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication
AUTH_USER_MODEL = "tenancy.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "steward.portal.auth.ParentBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/sign-in/"
# A password-reset link works once and for an hour (tenancy/recovery.py).
PASSWORD_RESET_TIMEOUT = 60 * 60
LOGIN_REDIRECT_URL = "/"

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "steward.portal.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "steward.backoffice.views.sign_in.locked_out"
AXES_VERBOSE = False

# Limits kept in the database (`steward.core.ratelimit`), shared by every worker: name ->
# (how many counted events, per how many seconds). django-axes locks one account from one
# address; these stop what it does not: guessing two-factor codes, one address trying many
# accounts (password spraying), guessing API client secrets and invitation links.
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "two_factor": (5, 900),  # two-factor code attempts per account (staff or parent), reset by a right code
    "sign_in_address": (20, 900),  # wrong passwords from one address, whichever accounts they were for
    "oauth_token_client": (10, 900),  # refused token requests per client id
    "oauth_token_address": (30, 900),  # refused token requests from one address, whichever client
    "invitation_address": (20, 900),  # invitation links from one address that do not exist
    "public_notice_address": (120, 60),  # public privacy-notice pages and PDFs from one address, a minute
    "password_reset_address": (10, 900),  # password-reset requests from one address, every one counted
    "password_reset_email": (3, 3600),  # reset emails to one mailbox an hour (past it: same page, no email)
}
# A deployment changes any of them with STEWARD_RATE_LIMITS="sign_in_address=60/900,two_factor=5/900"
# (e.g. a school whose staff all reach Steward from one address).
for _entry in filter(None, os.environ.get("STEWARD_RATE_LIMITS", "").split(",")):
    _name, _, _value = _entry.partition("=")
    _limit, _, _seconds = _value.partition("/")
    if _name.strip() not in RATE_LIMITS or not _limit.strip().isdigit() or not _seconds.strip().isdigit():
        raise ImproperlyConfigured(f"STEWARD_RATE_LIMITS: {_entry!r} is not <rule>=<count>/<seconds> of a known rule")
    RATE_LIMITS[_name.strip()] = (int(_limit), int(_seconds))

# Identity providers staff may sign in with (their school's Microsoft 365 or Google account), set by
# the ICT service: DESIGN.md "Signing in with a school's Microsoft 365 or Google account".
SIGN_IN_PROVIDERS = sign_in_providers.parse(os.environ.get("STEWARD_SIGN_IN_PROVIDERS", ""))

OTP_TOTP_ISSUER = "Steward"
OTP_TOTP_THROTTLE_FACTOR = 1

# --- Sessions and cookies (Secure only over HTTPS; the demo is plain HTTP on loopback)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Session limits (DESIGN.md "Sessions"): seconds without a request before a session ends, per kind
# of person, and the longest a session may last at all; `signins.middleware` enforces them.
# A value that is not a whole number is kept as typed, for `signins.checks` to refuse by name at start-up.


def _session_seconds(name: str, default: int) -> int | str:
    raw = os.environ.get(name, str(default)).strip()
    try:
        return int(raw)
    except ValueError:
        return raw


STEWARD_SESSION_IDLE_STAFF = _session_seconds("STEWARD_SESSION_IDLE_STAFF", 30 * 60)
STEWARD_SESSION_IDLE_PARENT = _session_seconds("STEWARD_SESSION_IDLE_PARENT", 60 * 60)
STEWARD_SESSION_ABSOLUTE = _session_seconds("STEWARD_SESSION_ABSOLUTE", 12 * 60 * 60)
# Django needs a number here; a value that is not one is named by the system check (signins.E001).
SESSION_COOKIE_AGE = STEWARD_SESSION_ABSOLUTE if isinstance(STEWARD_SESSION_ABSOLUTE, int) else 12 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_NAME = "__Host-steward_session" if PRODUCTION else "steward_session"
SECURE_SSL_REDIRECT = PRODUCTION
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (django-csp 4): no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Static files: our own plus GOV.UK Frontend from node_modules (installed by the set-up).
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # filled by `collectstatic` in production; served by WhiteNoise
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [
    PROJECT_DIR / "src" / "steward" / "static",
    ("govuk-frontend", PROJECT_DIR / "node_modules" / "govuk-frontend" / "dist" / "govuk"),
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- API clients: OAuth 2.0 client credentials (django-oauth-toolkit); secrets stored hashed.
# Also the OpenID Connect provider for apps staff sign in to (rostering/oidc.py, DESIGN.md
# "OpenID Connect provider"): authorisation code with PKCE only, ID tokens signed RS256.
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,  # a lifetime in seconds, not a password  # nosec B105
    # Refresh tokens are honoured for no client (sign-in apps sign the person in again; client
    # credentials get none), so the daily token sweep deletes them an hour after their access token.
    "REFRESH_TOKEN_EXPIRE_SECONDS": 3600,  # nosec B105
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "SCOPES": {
        "ingest": "Send the school's MIS data",
        "read": "Read data released by approved flows",
        # OneRoster 1.2 rostering (api/oneroster.py): what approved rostering flows release.
        "roster-core.readonly": "OneRoster: read the core rostering collections",
        "roster.readonly": "OneRoster: read all rostering collections",
        "roster-demographics.readonly": "OneRoster: read demographics",
        # OpenID Connect sign-in to apps (rostering/oidc.py).
        "openid": "Sign in with Steward",
        "profile": "Your name and role",
        "email": "Your work email address",
    },
    "DEFAULT_SCOPES": ["ingest", "read"],
    "PKCE_REQUIRED": True,
    "OIDC_ENABLED": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_RSA_PRIVATE_KEY": oidc_keys.signing_key(VAR_DIR, production=PRODUCTION),
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": oidc_keys.inactive_keys(),
    "OAUTH2_VALIDATOR_CLASS": "steward.rostering.oidc.SignInValidator",
}
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # a model name  # noqa: S105  # nosec B105

# --- Ingest limits
INGEST_MAX_UPLOAD_BYTES = int(os.environ.get("STEWARD_INGEST_MAX_UPLOAD_BYTES", str(512 * 1024 * 1024)))
INGEST_MAX_UNCOMPRESSED_BYTES = int(os.environ.get("STEWARD_INGEST_MAX_UNCOMPRESSED_BYTES", str(4 * 1024**3)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Background work: Django's Tasks API (django-tasks backport) on the database backend.
TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend" if TESTING else "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}


def _positive_number(name: str, default: str, kind: type[int] | type[float]) -> float:
    raw = os.environ.get(name, default).strip()
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not value > 0:
        raise ImproperlyConfigured(f"{name}: {raw!r} is not a positive {kind.__name__}")
    return value


# Many workers (core.workers): a worker whose heartbeat is older than this is dead and its running task
# goes back to the queue; a task whose worker died this many times is failed instead ("Background work").
STEWARD_WORKER_LEASE_SECONDS = _positive_number("STEWARD_WORKER_LEASE_SECONDS", "60", float)
STEWARD_TASK_MAX_ATTEMPTS = int(_positive_number("STEWARD_TASK_MAX_ATTEMPTS", "3", int))

# --- Outgoing email: Django's mail API; the backend decides the route. SMTP when a relay is named,
# else files under var/mail/ so a demo keeps what it would have sent for inspection. GOV.UK Notify:
# STEWARD_EMAIL_BACKEND=steward.notifications.govuk_notify.NotifyEmailBackend plus the NOTIFY_* below.
_SMTP_HOST = os.environ.get("STEWARD_SMTP_HOST", "")
EMAIL_BACKEND = os.environ.get("STEWARD_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if _SMTP_HOST else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_HOST = _SMTP_HOST or "localhost"
EMAIL_PORT = int(os.environ.get("STEWARD_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("STEWARD_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("STEWARD_SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("STEWARD_SMTP_STARTTLS") == "1"
EMAIL_USE_SSL = os.environ.get("STEWARD_SMTP_SSL") == "1"
EMAIL_TIMEOUT = 30
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("STEWARD_DEFAULT_FROM_EMAIL", "Steward <no-reply@steward.invalid>")
# The processor's service desk: new requests for assistance (and replies to unassigned ones) go here.
STEWARD_SERVICE_DESK_EMAIL = os.environ.get("STEWARD_SERVICE_DESK_EMAIL", "service-desk@steward.invalid")
# Optional: a file of school holiday date ranges during which service levels stop (servicedesk.calendar).
STEWARD_SERVICE_DESK_SCHOOL_HOLIDAYS = os.environ.get("STEWARD_SERVICE_DESK_SCHOOL_HOLIDAYS", "")
# Optional reply by email: notifications of a reply can be answered by email when this is set to an
# address whose mail is piped to `steward servicedesk_mail` (`servicedesk.reply_by_email`). Off when "".
STEWARD_SERVICE_DESK_REPLY_ADDRESS = os.environ.get("STEWARD_SERVICE_DESK_REPLY_ADDRESS", "").strip().lower()
# Files attached to service desk tickets: outside the web root (never under STATIC_ROOT), each named by a
# random key, served only through the desk's download views. Made on the first upload, not here.
STEWARD_ATTACHMENT_DIR = Path(os.environ.get("STEWARD_ATTACHMENT_DIR", str(VAR_DIR / "attachments")))
# Where those files are kept (`core.files`, DESIGN.md "Stateless web"): that folder by default (a disk every
# web machine mounts), or an S3-compatible object store: STEWARD_FILE_STORAGE=s3://bucket/prefix, with
# STEWARD_S3_ENDPOINT_URL for a store other than AWS's and the credentials as boto3 finds them.
STORAGES = files.storages_setting(os.environ)
# A school's contract-termination export, when the file store is the local disk.
STEWARD_TERMINATION_DIR = Path(os.environ.get("STEWARD_TERMINATION_DIR", str(VAR_DIR / "terminations")))
# Backups (`steward backup create`): the folder they are written to, and the age public keys
# (age1..., comma-separated) they are encrypted to. The private key is never on the server.
STEWARD_BACKUP_DIR = Path(os.environ.get("STEWARD_BACKUP_DIR", str(VAR_DIR / "backups")))
# Or anywhere else: an absolute folder path, or `s3://bucket/prefix` for an S3-compatible object store
# (credentials from boto3's usual chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role),
# with STEWARD_BACKUP_S3_ENDPOINT_URL for one that is not AWS (MinIO, Ceph: https://host:port).
# Unset: the folder above. A malformed value fails `manage.py check` (retention.E001).
STEWARD_BACKUP_LOCATION = os.environ.get("STEWARD_BACKUP_LOCATION", "").strip()
STEWARD_BACKUP_S3_ENDPOINT_URL = os.environ.get("STEWARD_BACKUP_S3_ENDPOINT_URL", "").strip()
STEWARD_BACKUP_RECIPIENTS = [k.strip() for k in os.environ.get("STEWARD_BACKUP_RECIPIENTS", "").split(",") if k.strip()]
# The age identity (private key) the *scheduled* weekly verify reads. Unset by default: a key kept on
# the server weakens "the private key is never on the server" (whoever takes the server and the
# backups can open them), so without it the scheduled verify records "not verified: no key on this
# server" and the processor verifies by hand with `steward backup verify --identity FILE`.
STEWARD_BACKUP_IDENTITY_FILE = os.environ.get("STEWARD_BACKUP_IDENTITY_FILE", "")
# Point-in-time restore: the embedded server archives each finished WAL segment into the spool folder
# (a local copy, fast), and `steward backup wal-ship` (every minute) encrypts and moves them to the
# backup location under wal/. Off by default: it needs a restart of the embedded server to take effect.
STEWARD_WAL_ARCHIVE = os.environ.get("STEWARD_WAL_ARCHIVE", "off").strip().lower() in {"on", "1", "true", "yes"}
STEWARD_WAL_SPOOL_DIR = Path(os.environ.get("STEWARD_WAL_SPOOL_DIR", str(VAR_DIR / "wal-spool")))
NOTIFY_API_KEY = os.environ.get("STEWARD_NOTIFY_API_KEY", "")
NOTIFY_TEMPLATE_ID = os.environ.get("STEWARD_NOTIFY_TEMPLATE_ID", "")
NOTIFY_BASE_URL = os.environ.get("STEWARD_NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")

# --- Web Push (VAPID): the private key from the environment (PEM or base64url raw), else generated
# once into var/ by steward.notifications.push on first use.
VAPID_PRIVATE_KEY = os.environ.get("STEWARD_VAPID_PRIVATE_KEY", "")
VAPID_PRIVATE_KEY_FILE = VAR_DIR / "vapid_private.pem"
VAPID_SUBJECT = os.environ.get("STEWARD_VAPID_SUBJECT", "mailto:dpo@steward.invalid")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("STEWARD_LOG_LEVEL", "WARNING")},
}

# Monitoring rules' thresholds (`steward.monitoring.config` fills in every default); a deployment
# overrides single values, e.g. STEWARD_MONITORING = {"brute_force": {"failures": 20}}.
STEWARD_MONITORING: dict[str, dict[str, object]] = {}
