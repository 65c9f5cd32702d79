from celery import shared_task


@shared_task(ignore_result=True)
def purge_expired_idempotency_keys() -> int:
    """Forget stored answers older than IDEMPOTENCY_KEY_LIFETIME_HOURS. Safe to run twice."""
    from .services import purge_expired_keys

    return purge_expired_keys()
