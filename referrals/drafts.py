"""A first responder's unfinished referrals: saved as typed, encrypted, and gone after DRAFT_LIFETIME_DAYS."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from .models import ReferralDraft

if TYPE_CHECKING:
    from accounts.models import User


def live_drafts(owner: User) -> QuerySet[ReferralDraft]:
    """The owner's drafts that have not expired, most recently saved first."""
    return ReferralDraft.objects.filter(owner=owner, expires_at__gt=timezone.now()).order_by("-updated_at")


def get_live_draft(owner: User, draft_id: int) -> ReferralDraft:
    """The draft, or ``ReferralDraft.DoesNotExist`` if it is someone else's, expired or gone."""
    return live_drafts(owner).get(pk=draft_id)


def save_draft(*, owner: User, data: Mapping[str, Any], draft_id: int | None = None) -> ReferralDraft:
    """Create or update a draft with the form's raw values; each save restarts its lifetime."""
    now = timezone.now()
    expires_at = now + datetime.timedelta(days=settings.DRAFT_LIFETIME_DAYS)
    draft = live_drafts(owner).filter(pk=draft_id).first() if draft_id else None
    if draft is None:
        draft = ReferralDraft(owner=owner, created_at=now)
    draft.data = dict(data)  # type: ignore[assignment]  # an encrypted JSON field
    draft.updated_at = now
    draft.expires_at = expires_at
    draft.save()
    return draft


def discard_draft(*, owner: User, draft_id: int) -> bool:
    deleted, _ = ReferralDraft.objects.filter(owner=owner, pk=draft_id).delete()
    return bool(deleted)
