"""Celery tasks: thin wrappers that take ids and call services. Each is safe to run twice."""

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import task_postrun, worker_init, worker_ready

logger = logging.getLogger(__name__)


@worker_init.connect
def keep_database_connections(**kwargs: Any) -> None:
    """Give the worker persistent database connections (``WORKER_CONN_MAX_AGE``, 300 s by default).

    The web process keeps ``CONN_MAX_AGE``; a worker would otherwise open a connection for every
    task. With ``CELERY_DB_REUSE_MAX`` set, Celery's Django fixup leaves them open, and
    ``close_broken_or_old_connections`` closes one after a task if it broke or outlived its age.
    """
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = settings.WORKER_CONN_MAX_AGE


@worker_ready.connect
def requeue_soon(**kwargs: Any) -> None:
    """A worker is up: the outbox sweep queues every waiting row again after its shortest wait."""
    from django.db import connections

    from .delivery import forget_requeues

    forget_requeues()
    connections.close_all()  # this thread runs no tasks


@task_postrun.connect
def close_broken_or_old_connections(task: Task | None = None, **kwargs: Any) -> None:
    """After a task, as Django does after a request: close this thread's connections that failed or aged.

    A task that met a database restart fails and leaves its row pending for the outbox sweep; the next
    task on the thread connects afresh. Not for eager tasks, which run inside the caller's transaction.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


@shared_task(ignore_result=True)
def deliver_notification(notification_id: str) -> None:
    """Deliver one notification. A database that fails meanwhile leaves the row pending: once its claim
    lapses, the outbox sweep queues it again, and the attempt is logged as one without an outcome."""
    from django.db import InterfaceError, OperationalError

    from .delivery import deliver

    try:
        deliver(notification_id)
    except (OperationalError, InterfaceError) as error:
        # One line: a traceback per task while the database is down says nothing more.
        logger.warning(
            "Notification %s left for the outbox sweep: the database failed (%s)",
            notification_id,
            type(error).__name__,
        )


@shared_task(ignore_result=True)
def sweep_outbox() -> None:
    from .delivery import requeue_pending

    requeue_pending()


@shared_task(ignore_result=True)
def sweep_deadlines() -> None:
    from .sweep import sweep_deadlines as sweep

    sweep()
