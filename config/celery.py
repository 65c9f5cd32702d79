"""The Celery app: ``celery -A config worker`` delivers notifications, ``celery -A config beat`` schedules the
sweeps, and a worker of their own (``--queues sweeps``, settings.CELERY_TASK_ROUTES) runs them.

Configuration comes from Django settings (``CELERY_*``): the broker is a folder on disk by default (no
server needed) or Redis from ``CELERY_BROKER_URL``. Tasks are acknowledged late and re-queued if a worker
dies; a notification is published once, and not at all for a while after the broker failed, because
every task the services queue is also recorded in the database and swept up by beat
(``notifications.tasks.sweep_outbox`` and ``sweep_deadlines``).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("harbour")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
