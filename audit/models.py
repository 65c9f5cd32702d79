from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    READ = "read", "Read personal details"
    CHANGE = "change", "Change"
    EXPORT = "export", "Export"
    LOGIN = "login", "Login"
    LOGOUT = "logout", "Logout"
    LOGIN_FAILED = "login_failed", "Login failed"
    LOCKOUT = "lockout", "Lockout"
    RETENTION = "retention", "Retention"


class AuditEvent(models.Model):
    """One append-only row of the audit trail: who did or saw what, when, from where (SPEC §10)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    username = models.CharField(
        max_length=150,
        blank=True,
        help_text='For sign-ins: the username, or "unknown #" and a digest when it names no user.',
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    referral = models.ForeignKey(
        "referrals.Referral",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    what = models.CharField(max_length=200, help_text="The page, endpoint or change, e.g. 'case page'.")
    changes = models.JSONField(default=dict, blank=True, help_text="Before and after of non-personal fields.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["referral", "-at"]),
            # The manager-wide trail is read newest first by id, often filtered by user or action.
            models.Index(fields=["actor", "-id"], name="audit_event_actor_newest"),
            models.Index(fields=["action", "-id"], name="audit_event_action_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.what}"
