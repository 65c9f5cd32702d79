from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from referrals.choices import BED_FOR, BedKind, RejectReason, RevokeOfferReason
from referrals.encryption import EncryptedTextField


class CareProvider(models.Model):
    """A contracted care provider (SPEC §2). Capacity is configuration; occupancy is derived."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="care_provider"
    )
    name = models.CharField(max_length=200)
    regions = models.JSONField(default=list, help_text="Region codes served (SPEC §7).")
    services = models.JSONField(default=list, help_text="accommodation and/or outreach.")
    beds_women = models.PositiveIntegerField(default=0)
    beds_men = models.PositiveIntegerField(default=0)
    beds_family = models.PositiveIntegerField(default=0)
    supports_children = models.BooleanField(default=False)
    languages = models.JSONField(default=list, help_text="ISO 639-1 codes of languages staff speak.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def capacity(self, bed_kind: str) -> int:
        return int(getattr(self, f"beds_{bed_kind}"))


class OfferState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Withdrawn"


class PlacementOffer(FSMModelMixin, models.Model):
    """An offer of a referral to a provider: pending → accepted | rejected | expired | revoked."""

    referral = models.ForeignKey("referrals.Referral", on_delete=models.CASCADE, related_name="offers")
    provider = models.ForeignKey(
        CareProvider, on_delete=models.PROTECT, related_name="offers", db_index=False
    )
    state = FSMField(default=OfferState.PENDING, choices=OfferState.choices, protected=True)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    offered_at = models.DateTimeField(default=timezone.now)
    response_due_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=20, choices=RejectReason.choices, blank=True, default="")
    # Why the managers withdrew the offer; empty for one revoked with its case (withdrawn or closed).
    revoke_reason = models.CharField(
        max_length=20, choices=RevokeOfferReason.choices, blank=True, default="", db_default=""
    )
    # What the managers tell the provider with the offer: the risks and needs it must know to decide and
    # to keep the person safe. Also in the offer's transition input; kept here for the offer's readers.
    # Encrypted, as every note about the person is.
    note = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral"],
                condition=Q(state=OfferState.PENDING),
                name="one_pending_offer_per_referral",
            ),
        ]
        indexes = [models.Index(fields=["provider", "state"])]

    def __str__(self) -> str:
        return f"Offer {self.pk} ({self.state})"

    @transition(field=state, source=OfferState.PENDING, target=OfferState.ACCEPTED)
    def accept(self) -> None:
        self.responded_at = timezone.now()

    @transition(field=state, source=OfferState.PENDING, target=OfferState.REJECTED)
    def reject(self, *, reason: str) -> None:
        self.reject_reason = reason
        self.responded_at = timezone.now()

    @transition(field=state, source=OfferState.PENDING, target=OfferState.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=state, source=OfferState.PENDING, target=OfferState.REVOKED)
    def revoke(self, *, reason: str = "") -> None:
        self.revoke_reason = reason


class Placement(models.Model):
    """A person placed with a provider. An active accommodation placement holds one bed of ``bed_kind``."""

    referral = models.ForeignKey("referrals.Referral", on_delete=models.CASCADE, related_name="placements")
    provider = models.ForeignKey(CareProvider, on_delete=models.PROTECT, related_name="placements")
    offer = models.OneToOneField(PlacementOffer, on_delete=models.PROTECT, related_name="placement")
    bed_kind = models.CharField(
        max_length=10, choices=BedKind.choices, blank=True, default="", help_text="Empty for outreach."
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral"],
                condition=Q(ended_at__isnull=True),
                name="one_active_placement_per_referral",
            ),
        ]
        indexes = [
            models.Index(
                fields=["provider", "bed_kind"],
                condition=Q(ended_at__isnull=True),
                name="placement_active_beds",
            )
        ]

    def __str__(self) -> str:
        return f"Placement {self.pk}"

    @property
    def bed_words(self) -> str:
        """ "a bed for a family"; empty for outreach, which holds no bed."""
        return f"a bed {BED_FOR[BedKind(self.bed_kind)]}" if self.bed_kind else ""

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
