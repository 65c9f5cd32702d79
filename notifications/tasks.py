"""Celery tasks: thin wrappers that take ids and call services. Each is safe to run twice."""

from typing import Any

from celery import shared_task
from celery.signals import worker_init


@worker_init.connect
def keep_database_connections(**kwargs: Any) -> None:
    """Give the worker persistent database connections (``WORKER_CONN_MAX_AGE``, 300 s by default).

    The web process keeps ``CONN_MAX_AGE``; a worker would otherwise open a connection for every
    task. Celery's Django fixup still closes a connection after a task if it broke or outlived its age.
    """
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = settings.WORKER_CONN_MAX_AGE


@shared_task(ignore_result=True)
def deliver_notification(notification_id: str) -> None:
    from .delivery import deliver

    deliver(notification_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> None:
    from .delivery import requeue_pending

    requeue_pending()


@shared_task(ignore_result=True)
def sweep_deadlines() -> None:
    from .sweep import sweep_deadlines as sweep

    sweep()
