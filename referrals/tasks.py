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
    """The retention policy, applied hourly by beat: cases closed longer than RETENTION_DAYS ago lose
    their personal fields, at most RETENTION_BATCHES_PER_RUN batches a run so that the sweeper is soon
    free for the deadline and outbox sweeps; a backlog drains over the runs that follow.
    ``manage.py apply_retention`` does every due case at once, on demand."""
    from django.conf import settings

    from .retention import apply_retention

    return apply_retention(max_batches=settings.RETENTION_BATCHES_PER_RUN).referrals


@shared_task(ignore_result=True)
def tell_of_those_now_18() -> int:
    """Daily, by beat: the managers and the placed provider hear of each child in support who has
    turned 18, once per case (``referrals.coming_of_age``)."""
    from .coming_of_age import tell_of_those_now_18 as tell

    return tell()
