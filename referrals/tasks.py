from celery import shared_task
from django.utils import timezone


@shared_task(ignore_result=True)
def purge_expired_drafts() -> int:
    from .models import ReferralDraft

    deleted, _ = ReferralDraft.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
