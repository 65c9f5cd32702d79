"""The Celery app: ``celery -A config worker`` delivers notifications, ``celery -A config beat`` schedules the
sweeps (one beat at a time on PostgreSQL: ``config.beat``), and a worker of their own (``--queues sweeps``,
settings.CELERY_TASK_ROUTES) runs them.

Configuration comes from Django settings (``CELERY_*``): the broker is a folder on disk by default (no
server needed) or Redis from ``CELERY_BROKER_URL``. Tasks are acknowledged late and re-queued if a worker
dies; a notification is published once, and not at all for a while after the broker failed, because
every task the services queue is also recorded in the database and swept up by beat
(``notifications.tasks.sweep_outbox`` and ``sweep_deadlines``).
"""

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("harbour")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def log_as_the_web_process_does(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Worker, sweeper and beat log with settings.LOGGING, in its one format, at their --loglevel:
    Celery would otherwise put its own format, in local time, in place of Django's."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
