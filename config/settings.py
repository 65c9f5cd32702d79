"""Harbour settings. Every value comes from the environment, with a default that is safe and needs no server.

The embedded default (no environment at all) is SQLite in ``var/`` and a Celery broker on disk, so a
newcomer can run the whole service, worker and scheduler included, with nothing installed.
"""

import datetime
import ssl
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from referrals.phone_numbers import NOT_ONE_NUMBER_MESSAGE, dial_string

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# First: every setting, HARBOUR_VAR_DIR included, may come from .env (the environment wins).
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("HARBOUR_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET = "harbour-development-only-secret-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")


def _refuse_a_guessable_secret(name: str, value: str, min_length: int) -> None:
    """With DEBUG off, a secret must be generated: not .env.example's placeholder, not short."""
    if not DEBUG and ("replace-me" in value or len(value) < min_length):
        raise ImproperlyConfigured(
            f"{name} must be a generated secret of at least {min_length} characters when DEBUG is off; "
            ".env.example says how to make one."
        )


_refuse_a_guessable_secret("SECRET_KEY", SECRET_KEY, 50)


def _comma_separated(name: str, default: list[str]) -> list[str]:
    """A comma-separated variable's entries, without the spaces around them: django-environ keeps them, so
    "a, b" would give " b", a host never matched, an origin never trusted, a fallback key that opens nothing."""
    return [entry.strip() for entry in env.list(name, default=default) if entry.strip()]


# Former keys, still accepted for what they signed, so that SECRET_KEY can be replaced without signing
# everyone out; each can go a day later. Not for a form left open: its owner field holds a digest of the
# sign-in made with SECRET_KEY alone (``referrals.unsent_forms``).
SECRET_KEY_FALLBACKS = _comma_separated("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = _comma_separated("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = _comma_separated("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "referrals",
    "care_providers",
    "notifications",
    "idempotency",
    "reports",
    "audit",
]

MIDDLEWARE = [
    # First: /healthz is answered before anything checks the Host header, redirects or reads a session.
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before CommonMiddleware, whose APPEND_SLASH would redirect an API address without its slash.
    "config.api_paths.OptionalTrailingSlashMiddleware",
    "audit.context.AuditContextMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "accounts.sessions.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.sessions.SlidingSessionMiddleware",
    "accounts.sessions.BrowserKeyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.mfa.RequireSecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it sees the lockout flag set by the login views (web and API).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.inbox",
                "accounts.context_processors.session_seconds_left",
            ],
        },
    },
]

# Django's widget templates, with inputs, text areas and selects rendered in Python (same HTML, faster).
FORM_RENDERER = "referrals.renderers.HarbourFormRenderer"

# A URL django-environ cannot read gives no engine, and Django a KeyError from deep inside its set-up.
_NOT_A_DATABASE_URL = (
    "DATABASE_URL must be a database URL such as postgres://harbour:password@host:5432/harbour, with "
    "the password URL-encoded"
)
try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'harbour.sqlite3'}")}
except ValueError as error:
    raise ImproperlyConfigured(f"{_NOT_A_DATABASE_URL} ({error}).") from None
if not DATABASES["default"].get("ENGINE"):
    raise ImproperlyConfigured(f"{_NOT_A_DATABASE_URL}.")
# The example password left in both .env.example's DATABASE_URL and .env.postgres.example would work:
# PostgreSQL was started with it, and anyone who has read the examples can connect.
if not DEBUG and "replace-me" in str(DATABASES["default"].get("PASSWORD", "")):
    raise ImproperlyConfigured(
        "DATABASE_URL's password is still the example's replace-me: set a generated one when DEBUG is off, "
        "the same as POSTGRES_PASSWORD in .env.postgres."
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# A kept connection is checked before a request or task first uses it: one the database dropped while
# idle (a restart, a failover, an idle timeout) is replaced instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A Celery worker runs tasks back to back, so it keeps each pool thread's connection this long instead
# (notifications.tasks applies it when the worker starts): connecting per task would cost more than most
# tasks. A connection that failed is still closed after its task (see CELERY_DB_REUSE_MAX).
WORKER_CONN_MAX_AGE = env.int("WORKER_CONN_MAX_AGE", default=300)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, worker and scheduler share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "accounts.authentication.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Personal fields are encrypted with these Fernet keys (the first encrypts, all decrypt), kept apart
# from SECRET_KEY so that rotating one does not touch the other.
_DEV_FIELD_KEY = "p1EcaBt6GyQd6m3NQ4V0bAGsYw3tUJ0M1Y9mY3zG0xU="
FIELD_ENCRYPTION_KEYS = _comma_separated("FIELD_ENCRYPTION_KEYS", default=[_DEV_FIELD_KEY] if DEBUG else [])
FIELD_HASH_KEY = env.str("FIELD_HASH_KEY", default="harbour-development-hash-key" if DEBUG else "")
if not FIELD_ENCRYPTION_KEYS or not FIELD_HASH_KEY:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS and FIELD_HASH_KEY must be set when DEBUG is off.")
_refuse_a_guessable_secret("FIELD_HASH_KEY", FIELD_HASH_KEY, 32)
# Earlier hash keys, while ``manage.py rehash_digests`` recomputes the stored digests under
# FIELD_HASH_KEY: until then, lookups also match digests made under these (README, "Keys").
FIELD_HASH_KEY_FALLBACKS = _comma_separated("FIELD_HASH_KEY_FALLBACKS", default=[])
for _key in FIELD_HASH_KEY_FALLBACKS:
    _refuse_a_guessable_secret("FIELD_HASH_KEY_FALLBACKS", _key, 32)
# A key that is not one would fail only at the first person's details, with a 500.
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "Each of FIELD_ENCRYPTION_KEYS must be a Fernet key (32 url-safe base64-encoded bytes); "
            ".env.example says how to make one."
        ) from None

# E-mail: EMAIL_URL such as smtp://127.0.0.1:1025; by default messages are written to var/mail.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="filemail://")
# .env.example's relay is mail.example.org with a password of replace-me: every alert sent by e-mail would
# fail, and be retried for hours before a manager heard of it, while the service looked healthy.
if not DEBUG and "replace-me" in env.str("EMAIL_URL", default=""):
    raise ImproperlyConfigured(
        "EMAIL_URL is still the example's mail relay with the password replace-me: set your mail relay's "
        "URL when DEBUG is off."
    )
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_CONFIG["EMAIL_FILE_PATH"] = str(VAR_DIR / "mail")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Harbour <no-reply@harbour.invalid>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Celery. The default broker is a folder on disk, so no server is needed; use redis://… in production.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2)
# One connection attempt per publish, of at most CELERY_BROKER_CONNECTION_TIMEOUT: kombu otherwise
# retries for that long with pauses between, and a web request publishing after commit would wait on a
# broker that is down (the outbox sweep resends what was not handed over). The worker's own
# reconnection loop is CELERY_BROKER_CONNECTION_MAX_RETRIES, not this.
REDIS_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": 5,
    "max_retries": 0,
}
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
# kombu turns certificate checks off for a bare rediss:// (managed Redis with TLS), so anyone on the
# path could read and inject tasks: they are required unless the URL's ssl_cert_reqs says otherwise.
if CELERY_BROKER_URL.startswith("rediss://") and "ssl_cert_reqs=" not in CELERY_BROKER_URL:
    CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = env.int("CELERY_BROKER_CONNECTION_MAX_RETRIES", default=None)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
# Celery's Django fixup closes a worker's database connections around every task unless told to reuse
# them; notifications.tasks closes one after a task only if it broke or outlived WORKER_CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# For beat's publishes. Notifications are published once, without these retries, and not at all for a
# while after a failure (notifications.services.publish_delivery): a web request must not wait on a
# broker that is down or hangs; the outbox sweep sends what was left pending.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# On PostgreSQL only one beat schedules; another started by mistake, or on purpose, waits as a standby.
CELERY_BEAT_SCHEDULER = "config.beat:SingleBeatScheduler"
DEADLINE_SWEEP_SECONDS = env.int("DEADLINE_SWEEP_SECONDS", default=60)
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    "sweep-deadlines": {"task": "notifications.tasks.sweep_deadlines", "schedule": DEADLINE_SWEEP_SECONDS},
    "sweep-outbox": {"task": "notifications.tasks.sweep_outbox", "schedule": OUTBOX_SWEEP_SECONDS},
    "purge-expired-drafts": {"task": "referrals.tasks.purge_expired_drafts", "schedule": 3600},
    "purge-expired-unsent-forms": {"task": "referrals.tasks.purge_expired_unsent_forms", "schedule": 60},
    "purge-idempotency-keys": {"task": "idempotency.tasks.purge_expired_idempotency_keys", "schedule": 3600},
    "apply-retention": {"task": "referrals.tasks.anonymise_closed_cases", "schedule": 3600},
    "tell-of-those-now-18": {"task": "referrals.tasks.tell_of_those_now_18", "schedule": 24 * 3600},
    "clear-expired-sessions": {"task": "accounts.tasks.clear_expired_sessions", "schedule": 24 * 3600},
}
# Every periodic task goes to a queue of its own, which a worker of its own consumes (the Procfile's and
# docker-compose.yml's sweeper): deliveries to a mail server or webhook receiver that never answers hold
# each slot of the default queue's workers for their whole timeout, and a due clock must still be swept
# every DEADLINE_SWEEP_SECONDS (SPEC §5). Deliveries stay on Celery's default queue.
CELERY_TASK_ROUTES = {entry["task"]: {"queue": "sweeps"} for entry in CELERY_BEAT_SCHEDULE.values()}
# A periodic task not run by its next turn is dropped: that turn does its work. A sweeper back after
# minutes away would otherwise run every sweep beat queued meanwhile, one after another.
CELERY_BEAT_SCHEDULE = {
    name: {**entry, "options": {"expires": entry["schedule"]}} for name, entry in CELERY_BEAT_SCHEDULE.items()
}
# A worker started without --queues consumes both, as every worker did before the split: one started the
# old way runs the sweeps too, rather than leaving them queued with nobody to run them. Each queue has an
# exchange and routing key of its own, as Celery gives a queue it makes itself.
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("celery", "sweeps"))

# Deadlines (SPEC §5). Durations by environment so a deployment or a test can change them.
DEADLINE_ASSESSMENT_WORKING_DAYS = env.int("DEADLINE_ASSESSMENT_WORKING_DAYS", default=5)
DEADLINE_PLACEMENT_WORKING_DAYS = env.int("DEADLINE_PLACEMENT_WORKING_DAYS", default=5)
DEADLINE_PLACEMENT_EMERGENCY_HOURS = env.int("DEADLINE_PLACEMENT_EMERGENCY_HOURS", default=24)
DEADLINE_OFFER_RESPONSE_MINUTES = env.int("DEADLINE_OFFER_RESPONSE_MINUTES", default=240)
DEADLINE_CHECK_IN_DAYS = env.int("DEADLINE_CHECK_IN_DAYS", default=7)
DEADLINE_RECOVERY_REVIEW_DAYS = env.int("DEADLINE_RECOVERY_REVIEW_DAYS", default=30)
MISSING_REPEAT_HOURS = env.int("MISSING_REPEAT_HOURS", default=24)
DEADLINE_REMINDER_FRACTION = env.float("DEADLINE_REMINDER_FRACTION", default=0.8)
for _name in (
    "DEADLINE_ASSESSMENT_WORKING_DAYS",
    "DEADLINE_PLACEMENT_WORKING_DAYS",
    "DEADLINE_PLACEMENT_EMERGENCY_HOURS",
    "DEADLINE_OFFER_RESPONSE_MINUTES",
    "DEADLINE_CHECK_IN_DAYS",
    "DEADLINE_RECOVERY_REVIEW_DAYS",
):
    if globals()[_name] < 0:  # due before it started: escalated at once, its reminder never sent
        raise ImproperlyConfigured(f"{_name} must be 0 or more: a clock cannot fall due before it starts.")
if MISSING_REPEAT_HOURS < 1:  # the alert would go again at every sweep until the person is found
    raise ImproperlyConfigured("MISSING_REPEAT_HOURS must be 1 or more: the hours between missing alerts.")
# A reminder at or after the due time is never sent ("80" meant as a percentage would be): every clock
# counted in calendar time would go unreminded, and nothing would say so.
if not 0 < DEADLINE_REMINDER_FRACTION < 1:
    raise ImproperlyConfigured(
        "DEADLINE_REMINDER_FRACTION must be more than 0 and less than 1: the share of a clock's span "
        "that has passed when its reminder goes (0.8 for 80%)."
    )

# Notification delivery.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=12)
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=30)
NOTIFICATION_RETRY_MAX_SECONDS = env.float("NOTIFICATION_RETRY_MAX_SECONDS", default=3600)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5)
# After a webhook receiver times out or refuses the connection, its deliveries wait this long; then one
# probes it, and the others wait on until it has answered.
WEBHOOK_COOLOFF_SECONDS = env.float("WEBHOOK_COOLOFF_SECONDS", default=60)
# A worker's claim on a row lasts this long (longer than a send can take); then the sweep may resend it.
# An email's SMTP session may take half of it (notifications.delivery), and so may a webhook: a send
# outlasting the claim is sent again by a second worker while the first is still sending.
NOTIFICATION_CLAIM_SECONDS = env.float("NOTIFICATION_CLAIM_SECONDS", default=60)
if WEBHOOK_TIMEOUT_SECONDS > NOTIFICATION_CLAIM_SECONDS / 2:
    raise ImproperlyConfigured(
        "WEBHOOK_TIMEOUT_SECONDS must be at most half of NOTIFICATION_CLAIM_SECONDS, "
        "or a slow webhook would be sent again while it is still being sent."
    )
# The outbox sweep re-queues a pending row this long after it was due and nobody took it.
NOTIFICATION_REQUEUE_AFTER_SECONDS = env.float("NOTIFICATION_REQUEUE_AFTER_SECONDS", default=30)
if NOTIFICATION_REQUEUE_AFTER_SECONDS <= 0:  # each copy waits twice as long as the one before it
    raise ImproperlyConfigured("NOTIFICATION_REQUEUE_AFTER_SECONDS must be more than 0.")
# Managers' page of undelivered notifications lists pending rows older than this, beside failed ones.
NOTIFICATION_STUCK_MINUTES = env.int("NOTIFICATION_STUCK_MINUTES", default=10)
if "visibility_timeout" not in CELERY_BROKER_TRANSPORT_OPTIONS and not CELERY_BROKER_URL.startswith(
    "filesystem://"
):
    # A retry waits in a worker until its countdown ends; Redis must not hand it out again meanwhile.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = int(NOTIFICATION_RETRY_MAX_SECONDS) + 600

DRAFT_LIFETIME_DAYS = env.int("DRAFT_LIFETIME_DAYS", default=30)
# What was typed into a form sent after the session ended is kept this long for its user to sign in again.
UNSENT_FORM_LIFETIME_MINUTES = env.int("UNSENT_FORM_LIFETIME_MINUTES", default=60)
DUPLICATE_WINDOW_DAYS = env.int("DUPLICATE_WINDOW_DAYS", default=90)
# The victim care contractor's 24-hour duty line, which Harbour gives wherever it tells a provider or a
# responder to phone the managers (a missing person it could not record, at 2 a.m.): never absent.
MANAGERS_DUTY_PHONE = env.str("MANAGERS_DUTY_PHONE", default="020 7946 0321" if DEBUG else "")
if not MANAGERS_DUTY_PHONE or "replace-me" in MANAGERS_DUTY_PHONE:
    raise ImproperlyConfigured(
        "MANAGERS_DUTY_PHONE must be set to the managers' duty line when DEBUG is off."
    )
# Every page links it to tap to call: text a phone cannot dial (two numbers, "ext 12") would show as no link.
if not dial_string(MANAGERS_DUTY_PHONE):
    raise ImproperlyConfigured(f"MANAGERS_DUTY_PHONE: {NOT_ONE_NUMBER_MESSAGE}")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "referrals.api.pagination.HarbourPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["referrals.api.errors.HarbourJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_METADATA_CLASS": "referrals.api.metadata.WithoutFieldsMetadata",
    # Domain errors, missing objects and lost races become 400/403/404/409 in this one place.
    "EXCEPTION_HANDLER": "referrals.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="600/minute"),
        # High enough for the benchmarks and the test suite; a runaway client still meets a limit.
        "user": env.str("API_THROTTLE_USER", default="30000/minute"),
        "token": env.str("API_THROTTLE_TOKEN", default="120/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Harbour API",
    "DESCRIPTION": (
        "Victim care referrals: intake, assessment, placement and recovery.\n\n"
        "Lists are paged: `{count, next, previous, results}`, 50 rows a page unless `page_size` says "
        "otherwise (at most 200). Follow `next` and `previous` as given: they carry an opaque `cursor` and "
        "the request's filters, and a row that stays on the list is never skipped or repeated while it "
        "changes. `?page=` other than 1 is refused with a 400, and so is a `page_size` that is not a whole "
        "number from 1.\n\n"
        "Each operation takes the query parameters it lists and no other: any other is a 400 that names it "
        "and lists those it takes, not a filter silently left out."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No deep links: each would be a link inside its operation's button, a second Tab stop that a screen
    # reader may not reach. No syntax colours: the theme's are too faint on its dark code blocks.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "syntaxHighlight": False},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_docs.outcome_has_no_other_fields",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DeclineReasonEnum": "referrals.choices.DeclineReason",
        "WithdrawReasonEnum": "referrals.choices.WithdrawReason",
        "RejectReasonEnum": "referrals.choices.RejectReason",
        "ReallocateReasonEnum": "referrals.choices.ReallocateReason",
        "ExitReasonEnum": "referrals.choices.ExitReason",
        "RegionEnum": "referrals.choices.Region",
        "ServiceEnum": "referrals.choices.Service",
        "StateEnum": "referrals.choices.ReferralState",
        "ExploitationTypeEnum": "referrals.choices.ExploitationType",
        "OrganisationKindEnum": "accounts.models.OrganisationKind",
    },
}
# Idempotency-Key answers are kept this long, then purged.
IDEMPOTENCY_KEY_LIFETIME_HOURS = env.int("IDEMPOTENCY_KEY_LIFETIME_HOURS", default=48)

# ------------------------------------------------------------------------------------- security (§10)
# Secure defaults when DEBUG is off; each can be relaxed by environment for local plain-HTTP use.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets (and overwrites) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A form left open while its user signed in again keeps what was typed instead of Django's bare 403.
CSRF_FAILURE_VIEW = "referrals.views.csrf_failure"
# Sessions end after 30 minutes without a request. A request moves the expiry on, writing the session
# at most every SESSION_REFRESH_SECONDS (accounts.sessions) rather than on every request.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=1800)
SESSION_REFRESH_SECONDS = env.int("SESSION_REFRESH_SECONDS", default=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# However busy, a session ends this long after its user signed in (accounts.sessions), as an API token
# does after TOKEN_LIFETIME_HOURS.
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12)
if SESSION_MAX_HOURS < 1:
    raise ImproperlyConfigured("SESSION_MAX_HOURS must be 1 or more: the hours a sign-in lasts at most.")

# Content Security Policy (django-csp 4): no inline scripts or styles, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# Login throttling (django-axes): a lockout after AXES_FAILURE_LIMIT failures of one username from one
# address, for AXES_COOLOFF_MINUTES. The address is never taken from a header the client can forge.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
if datetime.timedelta(minutes=UNSENT_FORM_LIFETIME_MINUTES) <= AXES_COOLOFF_TIME:
    raise ImproperlyConfigured(
        "UNSENT_FORM_LIFETIME_MINUTES must be longer than AXES_COOLOFF_MINUTES, or a user who mistypes "
        "their password until locked out loses what they typed before they can sign in again."
    )
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # the audit trail records logins
# django-axes keeps a failed attempt's form, masking only these (and "password"): the change of one's
# own password counts a wrong current password as a failed login (accounts.views).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "old_password", "new_password1", "new_password2"]
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Behind a reverse proxy (or several), the client address is taken from X-Forwarded-For as our own
# proxies wrote it; with none, only the connection's address counts. The lockout and the audit trail
# read it the same way: behind a proxy, a lockout by the proxy's address would lock a username out for
# everyone.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Below 0 the address would be counted from the left of X-Forwarded-For, where the client writes what it
# likes: a new address for each attempt would never be locked out.
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more: the proxies in front of gunicorn.")
AXES_CLIENT_IP_CALLABLE = "audit.context.address_of"
# Failures are counted, and lockouts listed, under the username as the audit trail records it: a name
# that is no user's is kept only as a keyed digest (it may be a password typed into the wrong box).
AXES_USERNAME_CALLABLE = "accounts.authentication.lockout_username"
AXES_VERBOSE = False

# API tokens expire TOKEN_LIFETIME_HOURS after they were issued.
TOKEN_LIFETIME_HOURS = env.int("TOKEN_LIFETIME_HOURS", default=12)
# A second factor (TOTP) for managers and admins; on by default in production, off in DEBUG/demo.
REQUIRE_MFA = env.bool("REQUIRE_MFA", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Harbour")
# Second factors are accounts.AuthenticatorApp, whose admin never shows a secret or QR code. django-otp's
# own TOTP plugin stays installed for its migrations (accounts moved its devices out); should its admin
# pages ever be registered, they too must never show either: whoever sees one can make that user's codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Retention: closed cases lose their personal fields after this many days (six years by default).
RETENTION_DAYS = env.int("RETENTION_DAYS", default=6 * 365 + 2)
if RETENTION_DAYS < 0:  # a cutoff in the future would anonymise every closed case on the next run
    raise ImproperlyConfigured("RETENTION_DAYS must be 0 or more: the days a closed case is kept.")
# Each hourly run anonymises at most this many batches of 500 cases, so that it holds the sweeper (and
# with it the deadline and outbox sweeps) for seconds, not for as long as a backlog takes.
RETENTION_BATCHES_PER_RUN = env.int("RETENTION_BATCHES_PER_RUN", default=4)
if RETENTION_BATCHES_PER_RUN < 1:
    raise ImproperlyConfigured("RETENTION_BATCHES_PER_RUN must be 1 or more, or no case is ever anonymised.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Celery (worker, sweeper, beat) logs through this too: config.celery hands it its logging.
    "formatters": {
        "plain": {
            "()": "config.log_format.UtcFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
