from django.conf import settings
from django.db import models
from django.utils import timezone

from referrals.encryption import EncryptedJSONField


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed for repeats (SPEC §9).

    The record is written in the same transaction as the work the request did, so a repeat either
    waits for that transaction and replays its answer, or finds nothing and does the work itself.
    Responses carry personal details, so the body is encrypted like the case it describes.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=200)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = EncryptedJSONField(null=True)
    # The case the answer shows, if any: a replay is checked against the user's scope, and retention
    # deletes the answer with the case's personal details.
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_response_per_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
