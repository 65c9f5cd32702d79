"""Celery tasks: thin wrappers that take ids and call services. Each is safe to run twice."""

from celery import shared_task


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
