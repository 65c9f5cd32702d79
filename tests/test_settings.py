"""Settings come from the environment, with safe embedded defaults and a refusal to run insecurely."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
PRINT = (
    "from django.conf import settings as s; "
    "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.EMAIL_BACKEND, s.ALLOWED_HOSTS)"
)


def run_settings(tmp_path: Path, show: str = PRINT, **env: str) -> subprocess.CompletedProcess[str]:
    """Load the settings in a fresh interpreter with only ``env`` set (the repository's .env aside) and
    run ``show``."""
    clean = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    clean.update(HARBOUR_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **env)
    script = f"import django; django.setup(); {show}"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def production(**overrides: str) -> dict[str, str]:
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FIELD_HASH_KEY": secrets.token_urlsafe(32),
        "MANAGERS_DUTY_PHONE": "020 7946 0321",
    }
    env.update(overrides)
    return env


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    # An empty value in the environment wins over any .env file.
    result = run_settings(tmp_path, **production(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_settings_refuse_to_start_without_field_encryption_keys_when_debug_is_off(tmp_path: Path) -> None:
    result = run_settings(tmp_path, **production(FIELD_ENCRYPTION_KEYS="", FIELD_HASH_KEY=""))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


@pytest.mark.parametrize("value", ["", "replace-me"])
def test_settings_refuse_to_start_without_the_managers_duty_phone_when_debug_is_off(
    tmp_path: Path, value: str
) -> None:
    """Harbour tells people to phone the managers, at any hour: it must have a number to give them, not
    .env.example's placeholder."""
    result = run_settings(tmp_path, **production(MANAGERS_DUTY_PHONE=value))
    assert result.returncode != 0
    assert "MANAGERS_DUTY_PHONE must be set to the managers' duty line when DEBUG is off" in result.stderr


@pytest.mark.parametrize("value", ["020 7946 0321 or 020 7946 0322", "020 7946 0321 ext 12", "999"])
def test_settings_refuse_a_managers_duty_phone_that_is_not_one_number(tmp_path: Path, value: str) -> None:
    """Every page links the duty line to tap to call at 2 a.m.: it must be one number a phone can dial."""
    result = run_settings(tmp_path, **production(MANAGERS_DUTY_PHONE=value))
    assert result.returncode != 0
    assert "MANAGERS_DUTY_PHONE: Enter one number to dial" in result.stderr


def test_settings_take_a_managers_duty_phone_written_the_international_way(tmp_path: Path) -> None:
    result = run_settings(
        tmp_path,
        show="from django.conf import settings as s; print(s.MANAGERS_DUTY_PHONE)",
        **production(MANAGERS_DUTY_PHONE="+44 (0)20 7946 0321"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "+44 (0)20 7946 0321"


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("SECRET_KEY", "replace-me", "SECRET_KEY must be a generated secret of at least 50 characters"),
        ("SECRET_KEY", "replace-me-" * 6, "SECRET_KEY must be a generated secret"),
        ("SECRET_KEY", "short-but-set", "SECRET_KEY must be a generated secret"),
        (
            "FIELD_HASH_KEY",
            "replace-me",
            "FIELD_HASH_KEY must be a generated secret of at least 32 characters",
        ),
        ("FIELD_ENCRYPTION_KEYS", "replace-me", "Each of FIELD_ENCRYPTION_KEYS must be a Fernet key"),
        ("FIELD_HASH_KEY_FALLBACKS", "replace-me", "FIELD_HASH_KEY_FALLBACKS must be a generated secret"),
    ],
)
def test_settings_refuse_to_start_with_a_placeholder_or_guessable_key_when_debug_is_off(
    tmp_path: Path, setting: str, value: str, says: str
) -> None:
    """.env.example's placeholders left in place would otherwise start a stack with public keys."""
    result = run_settings(tmp_path, **production(**{setting: value}))
    assert result.returncode != 0
    assert says in result.stderr


def test_settings_refuse_the_example_database_password_when_debug_is_off(tmp_path: Path) -> None:
    """.env.example's DATABASE_URL and .env.postgres.example's password agree, so a stack started
    from both would work, with a password anyone who read them knows."""
    example = "postgres://harbour:replace-me@postgres:5432/harbour"
    result = run_settings(tmp_path, **production(DATABASE_URL=example))
    assert result.returncode != 0
    assert "DATABASE_URL's password is still the example's replace-me" in result.stderr
    assert run_settings(tmp_path, **production(DEBUG="1", DATABASE_URL=example)).returncode == 0


@pytest.mark.parametrize("url", ["", "postgres//harbour@db/harbour", "postgres://harbour@db:port/harbour"])
def test_settings_refuse_a_database_url_they_cannot_read_with_a_message_that_says_so(
    tmp_path: Path, url: str
) -> None:
    """An empty or mistyped DATABASE_URL ended in a KeyError: 'ENGINE' from inside Django's set-up."""
    result = run_settings(tmp_path, **production(DATABASE_URL=url))
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL must be a database URL such as postgres://" in result.stderr


def test_settings_refuse_the_example_mail_relay_when_debug_is_off(tmp_path: Path) -> None:
    """Left as it is in .env.example, every alert that goes by e-mail fails, hours of retries later."""
    example = "smtp+tls://harbour:replace-me@mail.example.org:587"
    result = run_settings(tmp_path, **production(EMAIL_URL=example))
    assert result.returncode != 0
    assert "EMAIL_URL is still the example's mail relay" in result.stderr
    assert run_settings(tmp_path, **production(DEBUG="1", EMAIL_URL=example)).returncode == 0


def test_the_embedded_default_is_sqlite_and_an_on_disk_broker(tmp_path: Path) -> None:
    result = run_settings(tmp_path, **production())
    assert result.returncode == 0, result.stderr
    engine, broker, email, _ = result.stdout.split(maxsplit=3)
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem://"
    assert email == "django.core.mail.backends.filebased.EmailBackend"
    assert (tmp_path / "broker" / "queue").is_dir()


def test_database_broker_email_and_hosts_come_from_the_environment(tmp_path: Path) -> None:
    result = run_settings(
        tmp_path,
        **production(
            DATABASE_URL="postgres://harbour@db.example.org:5432/harbour",
            CELERY_BROKER_URL="redis://cache.example.org:6379/0",
            EMAIL_URL="smtp://mail.example.org:1025",
            ALLOWED_HOSTS="harbour.example.org,www.harbour.example.org",
        ),
    )
    assert result.returncode == 0, result.stderr
    engine, broker, email, hosts = result.stdout.split(maxsplit=3)
    assert engine == "django.db.backends.postgresql"
    assert broker == "redis://cache.example.org:6379/0"
    assert email == "django.core.mail.backends.smtp.EmailBackend"
    assert hosts.strip() == "['harbour.example.org', 'www.harbour.example.org']"


def test_settings_refuse_a_webhook_timeout_over_half_the_claim_on_a_notification(tmp_path: Path) -> None:
    """A webhook still being sent when its claim lapses would be sent again by a second worker."""
    result = run_settings(
        tmp_path, **production(NOTIFICATION_CLAIM_SECONDS="60", WEBHOOK_TIMEOUT_SECONDS="31")
    )
    assert result.returncode != 0
    assert "WEBHOOK_TIMEOUT_SECONDS must be at most half of NOTIFICATION_CLAIM_SECONDS" in result.stderr


def test_settings_refuse_a_negative_retention_period(tmp_path: Path) -> None:
    """A cutoff in the future would anonymise every closed case on the next run."""
    result = run_settings(tmp_path, **production(RETENTION_DAYS="-30"))
    assert result.returncode != 0
    assert "RETENTION_DAYS must be 0 or more" in result.stderr


def test_settings_refuse_retention_runs_that_would_do_nothing(tmp_path: Path) -> None:
    """With no batch a run, beat's retention would never anonymise a case, and say nothing."""
    result = run_settings(tmp_path, **production(RETENTION_BATCHES_PER_RUN="0"))
    assert result.returncode != 0
    assert "RETENTION_BATCHES_PER_RUN must be 1 or more" in result.stderr


@pytest.mark.parametrize("value", ["80", "1", "0", "-0.2"])
def test_settings_refuse_a_reminder_fraction_that_is_not_a_share_of_the_span(
    tmp_path: Path, value: str
) -> None:
    """ "80" meant as a percentage would put every calendar clock's reminder after its due time: no offer,
    check-in, emergency placement or recovery review would ever be reminded, and nothing would say so."""
    result = run_settings(tmp_path, **production(DEADLINE_REMINDER_FRACTION=value))
    assert result.returncode != 0
    assert "DEADLINE_REMINDER_FRACTION must be more than 0 and less than 1" in result.stderr


@pytest.mark.parametrize("value", ["0", "-24"])
def test_settings_refuse_missing_alerts_repeated_at_every_sweep(tmp_path: Path, value: str) -> None:
    """Repeated every 0 hours, a missing person's alert would go to the managers and the referrer at every
    sweep, every minute, until they are found."""
    result = run_settings(tmp_path, **production(MISSING_REPEAT_HOURS=value))
    assert result.returncode != 0
    assert "MISSING_REPEAT_HOURS must be 1 or more" in result.stderr


@pytest.mark.parametrize(
    "setting",
    [
        "DEADLINE_ASSESSMENT_WORKING_DAYS",
        "DEADLINE_PLACEMENT_WORKING_DAYS",
        "DEADLINE_PLACEMENT_EMERGENCY_HOURS",
        "DEADLINE_OFFER_RESPONSE_MINUTES",
        "DEADLINE_CHECK_IN_DAYS",
        "DEADLINE_RECOVERY_REVIEW_DAYS",
    ],
)
def test_settings_refuse_a_deadline_due_before_its_clock_starts(tmp_path: Path, setting: str) -> None:
    result = run_settings(tmp_path, **production(**{setting: "-1"}))
    assert result.returncode != 0
    assert f"{setting} must be 0 or more" in result.stderr


def test_settings_take_deadlines_of_nought_and_of_one(tmp_path: Path) -> None:
    """A deployment (or a test) may make a clock fall due as it starts, or after a single unit."""
    show = "from django.conf import settings as s; print(s.DEADLINE_OFFER_RESPONSE_MINUTES, s.MISSING_REPEAT_HOURS)"
    result = run_settings(
        tmp_path, show=show, **production(DEADLINE_OFFER_RESPONSE_MINUTES="0", MISSING_REPEAT_HOURS="1")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "1"]


def test_settings_refuse_to_keep_unsent_forms_no_longer_than_a_login_lockout(tmp_path: Path) -> None:
    """A user locked out of signing in would lose what they typed before they could sign in again."""
    result = run_settings(
        tmp_path, **production(AXES_COOLOFF_MINUTES="30", UNSENT_FORM_LIFETIME_MINUTES="30")
    )
    assert result.returncode != 0
    assert "UNSENT_FORM_LIFETIME_MINUTES must be longer than AXES_COOLOFF_MINUTES" in result.stderr
    assert run_settings(tmp_path, **production(AXES_COOLOFF_MINUTES="30")).returncode == 0


def test_settings_refuse_a_requeue_wait_of_zero(tmp_path: Path) -> None:
    """The outbox sweep doubles the wait after each copy: from nothing it would never reach its cap."""
    result = run_settings(tmp_path, **production(NOTIFICATION_REQUEUE_AFTER_SECONDS="0"))
    assert result.returncode != 0
    assert "NOTIFICATION_REQUEUE_AFTER_SECONDS must be more than 0" in result.stderr


@pytest.mark.parametrize(
    ("url", "verify"),
    [
        ("rediss://:a%40password@redis.example.org:6380/0", "CERT_REQUIRED"),
        ("rediss://redis.example.org:6380/0?ssl_cert_reqs=required", "CERT_REQUIRED"),
        ("rediss://redis.example.org:6380/0?ssl_cert_reqs=none", "CERT_NONE"),  # the URL's own choice
    ],
)
def test_a_tls_broker_verifies_its_certificate_unless_the_url_says_otherwise(
    tmp_path: Path, url: str, verify: str
) -> None:
    """kombu's own default for a bare rediss:// is no check: anyone on the path could read and inject tasks."""
    show = "from config.celery import app; print(app.connection_for_write().ssl['ssl_cert_reqs'].name)"
    result = run_settings(tmp_path, show, **production(CELERY_BROKER_URL=url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == verify


# 2026-07-01 12:00 UTC: 13:00 in London, where Django sets the process's time zone.
FORMAT_A_RECORD = (
    "import logging; "
    "record = logging.makeLogRecord({'name': 'harbour', 'levelno': 20, 'levelname': 'INFO', 'msg': 'swept', "
    "'created': 1782907200.0, 'msecs': 0.0}); "
    "print(logging.getLogger().handlers[0].format(record)); print(logging.getLogger().level)"
)


def test_log_lines_are_stamped_in_utc_with_the_offset_as_gunicorns_are(tmp_path: Path) -> None:
    """London local time without an offset repeats an hour every October and is an hour off gunicorn's."""
    result = run_settings(tmp_path, FORMAT_A_RECORD, **production())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "2026-07-01 12:00:00.000 +0000 INFO harbour swept"


def test_celery_logs_in_the_web_processs_format_at_its_own_level(tmp_path: Path) -> None:
    """The worker, sweeper and beat set up logging as Celery starts them, with --loglevel."""
    show = f"from config.celery import app; app.log.setup(loglevel='WARNING'); {FORMAT_A_RECORD}"
    result = run_settings(tmp_path, show, **production())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2026-07-01 12:00:00.000 +0000 INFO harbour swept", "30"]


def test_former_secret_keys_come_from_the_environment(tmp_path: Path) -> None:
    """SECRET_KEY can be replaced without signing everyone out: the former one stays a fallback."""
    former = secrets.token_urlsafe(50)
    show = "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS == [" + repr(former) + "])"
    result = run_settings(tmp_path, show, **production(SECRET_KEY_FALLBACKS=former))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"


def test_comma_separated_settings_take_entries_written_with_a_space_after_each_comma(tmp_path: Path) -> None:
    """A list is written "a, b": the second host would be refused with a 400, the second origin's
    forms with a 403, and a fallback key with a space before it would open nothing (everyone signed out
    on a new SECRET_KEY, duplicates missed while the hash key changes)."""
    new_key, old_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    former_secrets = [secrets.token_urlsafe(50), secrets.token_urlsafe(50)]
    former_hash_keys = [secrets.token_urlsafe(32), secrets.token_urlsafe(32)]
    show = (
        "import json; from django.conf import settings as s; print(json.dumps([s.ALLOWED_HOSTS, "
        "s.CSRF_TRUSTED_ORIGINS, s.SECRET_KEY_FALLBACKS, s.FIELD_ENCRYPTION_KEYS, s.FIELD_HASH_KEY_FALLBACKS]))"
    )
    result = run_settings(
        tmp_path,
        show,
        **production(
            ALLOWED_HOSTS="harbour.example.org, harbour.example.net",
            CSRF_TRUSTED_ORIGINS="https://harbour.example.org , https://harbour.example.net",
            SECRET_KEY_FALLBACKS=", ".join(former_secrets),
            FIELD_ENCRYPTION_KEYS=f"{new_key}, {old_key}",
            FIELD_HASH_KEY_FALLBACKS=" , ".join(former_hash_keys) + ",",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [
        ["harbour.example.org", "harbour.example.net"],
        ["https://harbour.example.org", "https://harbour.example.net"],
        former_secrets,
        [new_key, old_key],
        former_hash_keys,
    ]


def test_settings_refuse_a_negative_count_of_trusted_proxies(tmp_path: Path) -> None:
    """-1 took the client's address from the second entry of X-Forwarded-For, which the client writes:
    the audit trail would record, and the login lockout count, whatever address it chose."""
    result = run_settings(tmp_path, **production(TRUSTED_PROXY_COUNT="-1"))
    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT must be 0 or more" in result.stderr
