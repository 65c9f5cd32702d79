from celery import shared_task


@shared_task(ignore_result=True)
def purge_expired_drafts() -> int:
    from .drafts import delete_expired_drafts

    return delete_expired_drafts()


@shared_task(ignore_result=True)
def purge_expired_unsent_forms() -> int:
    from .unsent_forms import delete_expired_unsent_forms

    return delete_expired_unsent_forms()


@shared_task(ignore_result=True)
def anonymise_closed_cases() -> int:
    """The retention policy, applied daily: cases closed longer than RETENTION_DAYS ago lose their
    personal fields (``manage.py apply_retention`` does the same on demand)."""
    from .retention import apply_retention

    return apply_retention().referrals
