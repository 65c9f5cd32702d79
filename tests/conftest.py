import os

import pytest
from django.db import connection

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
def _media_and_mail(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = False
