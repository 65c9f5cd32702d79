from celery import shared_task


@shared_task(ignore_result=True)
def purge_expired_drafts() -> int:
    from .drafts import delete_expired_drafts

    return delete_expired_drafts()
