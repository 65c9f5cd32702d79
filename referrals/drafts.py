"""A first responder's unfinished referrals: saved as typed, encrypted, and gone after DRAFT_LIFETIME_DAYS.

Saving and discarding a draft are audited like any change (SPEC §10), naming the draft by its number and
the fields typed into it, never what was typed: the trail is read more widely than the draft.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditAction
from audit.services import draft_label, record_change

from .exceptions import DraftChangedElsewhere
from .models import ReferralDraft, UnsentForm

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Referral


def live_drafts(owner: User) -> QuerySet[ReferralDraft]:
    """The owner's drafts that have not expired, most recently saved first."""
    return ReferralDraft.objects.filter(owner=owner, expires_at__gt=timezone.now()).order_by("-updated_at")


def get_live_draft(owner: User, draft_id: int) -> ReferralDraft:
    """The draft, or ``ReferralDraft.DoesNotExist`` if it is someone else's, expired or gone."""
    return live_drafts(owner).get(pk=draft_id)


def typed_fields(data: Mapping[str, Any]) -> list[str]:
    """The names of the fields that hold something: what the audit trail may say about a draft."""
    return sorted(name for name, value in data.items() if value not in (None, "", [], ()))


def fields_that_differ(one: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """The names of the fields two drafts' values differ in, a field left empty in one and absent from
    the other being the same."""
    names = sorted(set(one) | set(other))
    return [name for name in names if (one.get(name) or None) != (other.get(name) or None)]


def save_draft(
    *,
    owner: User,
    data: Mapping[str, Any],
    draft_id: int | None = None,
    version: int | None = None,
    form_key: str = "",
) -> ReferralDraft:
    """Create or update a draft with the form's raw values; each save restarts its lifetime and counts a
    version. A new draft remembers ``form_key``, the key of the form it is saved from
    (``draft_saved_from``). ``version`` is the draft's version the form was loaded from: if the draft
    has been saved since, it is left as it is and ``DraftChangedElsewhere`` raised."""
    now = timezone.now()
    expires_at = now + datetime.timedelta(days=settings.DRAFT_LIFETIME_DAYS)
    with transaction.atomic():
        draft = live_drafts(owner).select_for_update().filter(pk=draft_id).first() if draft_id else None
        created = draft is None
        if draft is None:
            draft = ReferralDraft(owner=owner, created_at=now, form_key=form_key)
        elif draft.version != version:
            raise DraftChangedElsewhere(draft)
        else:
            draft.version += 1
        draft.data = dict(data)
        draft.updated_at = now
        draft.expires_at = expires_at
        draft.save()
        record_change(
            actor=owner,
            referral=None,
            what=f"{draft_label(draft.pk)}: {'created' if created else 'saved'}",
            changes={"fields": typed_fields(data)},
        )
    return draft


def keep_as_new_draft(
    *, owner: User, data: Mapping[str, Any], why: str, unless_same_as: ReferralDraft | None = None
) -> ReferralDraft:
    """Keep an intake form's values as a new draft, never in place of one saved before: sent after its
    owner's session lapsed, or from an older version of a draft changed elsewhere since. ``why`` says
    which, for the trail ("from a lapsed session"). Values the same as ``unless_same_as`` (the draft the
    form was opened from, unchanged) are already kept there: that draft is returned, and no copy made."""
    if unless_same_as is not None and not fields_that_differ(data, unless_same_as.data):
        return unless_same_as
    now = timezone.now()
    with transaction.atomic():
        draft = ReferralDraft.objects.create(
            owner=owner,
            data=dict(data),
            created_at=now,
            updated_at=now,
            expires_at=now + datetime.timedelta(days=settings.DRAFT_LIFETIME_DAYS),
        )
        record_change(
            actor=owner,
            referral=None,
            what=f"{draft_label(draft.pk)}: kept {why}",
            changes={"fields": typed_fields(data)},
        )
    return draft


def draft_saved_from(owner: User, form_key: str) -> ReferralDraft | None:
    """The owner's live draft first saved from the form with this key, if any."""
    return live_drafts(owner).filter(form_key=form_key).first()


def discard_draft(
    *, owner: User, draft_id: int, version: int | None, submitted_as: Referral | None = None
) -> bool:
    """Delete the owner's draft: discarded by them, or ``submitted_as`` a referral; only in the
    ``version`` they saw, so that a draft changed elsewhere since is kept. True if it was deleted."""
    if version is None:  # a form that does not say which version it saw: not one to delete
        return False
    with transaction.atomic():
        deleted, _ = ReferralDraft.objects.filter(owner=owner, pk=draft_id, version=version).delete()
        if deleted:
            record_change(
                actor=owner,
                referral=None,
                what=f"{draft_label(draft_id)}: {'submitted' if submitted_as else 'discarded'}",
                changes={"referral": submitted_as.reference} if submitted_as else {},
            )
    return bool(deleted)


def delete_expired_drafts() -> int:
    """Delete every draft past its lifetime; audited once per run that deleted any."""
    with transaction.atomic():
        deleted, _ = ReferralDraft.objects.filter(expires_at__lt=timezone.now()).delete()
        if deleted:
            record_change(
                actor=None,
                referral=None,
                action=AuditAction.RETENTION,
                what="retention: expired drafts deleted",
                changes={"drafts": deleted},
            )
    return deleted


def delete_drafts_and_unsent_forms(*, owner: User, why: str) -> None:
    """Delete everything the owner typed and has not sent, drafts and unsent forms, ``why`` being a
    change to their access; audited by number, when there was any."""
    with transaction.atomic():
        kept = {
            "drafts": list(ReferralDraft.objects.filter(owner=owner).values_list("pk", flat=True)),
            "unsent_forms": list(UnsentForm.objects.filter(owner=owner).values_list("pk", flat=True)),
        }
        ReferralDraft.objects.filter(pk__in=kept["drafts"]).delete()
        UnsentForm.objects.filter(pk__in=kept["unsent_forms"]).delete()
        if deleted := {kind: numbers for kind, numbers in kept.items() if numbers}:
            record_change(
                actor=owner, referral=None, what=f"drafts and unsent forms deleted: {why}", changes=deleted
            )
