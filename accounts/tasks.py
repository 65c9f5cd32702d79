from celery import shared_task


@shared_task(ignore_result=True)
def clear_expired_sessions() -> None:
    """Delete the sessions that have expired, which Django leaves in the table until something does.
    Safe to run twice."""
    from django.core.management import call_command

    call_command("clearsessions")
