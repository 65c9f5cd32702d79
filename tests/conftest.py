import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import referral_fields
from tests.notifications.receivers import SmtpReceiver
from tests.processes import RedisServer, Worker, use_broker

# `.ci/run` sets this: there, a skipped test is a failure, so nothing is silently left out.
FORBID_SKIPS = os.environ.get("HARBOUR_FORBID_SKIPS") == "1"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` skip cleanly on SQLite, with the reason shown in the summary."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… to run it")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if FORBID_SKIPS and _skipped and exitstatus == 0:
        print(f"\n{len(_skipped)} test(s) skipped where none may be: " + ", ".join(_skipped))
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Production-strength hashing costs most of a second per user the factories make.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MANAGERS_DUTY_PHONE = "020 7946 0321"


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    with use_broker(server.url):
        yield server
    server.stop()


@pytest.fixture(autouse=True)
def _publishing_not_paused(monkeypatch) -> None:
    """A publish that failed in one test must not leave the next test's notifications to the sweep."""
    monkeypatch.setattr("notifications.services._publish_paused_until", 0.0)


@pytest.fixture
def worker(
    transactional_db: None, redis_server: RedisServer, smtp: SmtpReceiver, tmp_path: Path, settings
) -> Iterator[Worker]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": redis_server.url,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "HARBOUR_VAR_DIR": str(tmp_path / "var"),
        "NOTIFICATION_MAX_ATTEMPTS": "3",
        "NOTIFICATION_RETRY_BASE_SECONDS": "0.2",
        "NOTIFICATION_RETRY_MAX_SECONDS": "0.5",
        # A webhook has 5 s, an SMTP session half the claim: the test's own receivers answer at once, but
        # a busy machine can make that take over a second, and an answer timed out is sent again.
        "NOTIFICATION_CLAIM_SECONDS": "10",
        "NOTIFICATION_REQUEUE_AFTER_SECONDS": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "5",
        "WEBHOOK_COOLOFF_SECONDS": "1",
        "OUTBOX_SWEEP_SECONDS": "1",
        "DEADLINE_SWEEP_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    handle = Worker(env, tmp_path / "worker.log")
    yield handle
    handle.stop()
    log = handle.log.read_text(errors="replace") if handle.log.exists() else ""
    for name in (referral_fields()["given_name"], referral_fields()["family_name"]):
        assert name not in log, "personal data in the worker's log"
