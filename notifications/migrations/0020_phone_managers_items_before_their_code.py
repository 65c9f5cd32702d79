"""The placed provider's items asking it to phone the managers, written before they carried their action
code (``phone_managers``): nothing ever marked them read. Each gets the code, and is marked read if what
it asked is over, as this release marks it: a placement of the case ended since (the person reallocated,
or the case closed, which a placed case does only by ending its placement: ``_end_placement`` in
``referrals.services``), or the placement's provider can take the person as they are now
(``misfit_items_done``, after a correction).

An item does not point to its correction's outbox rows (``InboxItem.notification`` is a failed
delivery's), and an organisation with no e-mail address or webhook has none, so the item is known by its
own message, which said, in one wording from the notice's first release (0017) to the code's: "The
provider where they are placed does not …: phone the managers on …". Of care providers, only the placed
one is told so. Read items get the code and stay as they are.

Safe to run again: it looks only at items with no code. Backwards, nothing is undone: the release before
ignores the code, and an item read stays read."""

from django.db import migrations
from django.utils import timezone

# Frozen as at this migration, here and in ``takes``: later releases may word or decide them otherwise.
PLACED_PROVIDER_MISFIT = "The provider where they are placed does not "


def takes(provider, *, is_child, region):
    """Whether the provider takes the person as they are now (``care_providers.services.provider_misfits``
    finding nothing): a child only where it supports children, and only in a region it serves."""
    return (provider.supports_children or not is_child) and region in provider.regions


def phone_managers_items(apps, schema_editor):
    inbox_item = apps.get_model("notifications", "InboxItem")
    placement = apps.get_model("care_providers", "Placement")
    items = inbox_item.objects.filter(
        event="referral.corrected",
        action="",
        user__organisation__kind="care_provider",
        message__contains=PLACED_PROVIDER_MISFIT,
    )
    done = []
    unread = items.filter(read_at__isnull=True).values_list(
        "pk", "created_at", "referral_id", "referral__is_child", "referral__region"
    )
    for pk, created_at, referral_id, is_child, region in unread:
        placements = list(placement.objects.filter(referral_id=referral_id).select_related("provider"))
        ended_since = any(held.ended_at is not None and held.ended_at > created_at for held in placements)
        fits = any(
            held.ended_at is None and takes(held.provider, is_child=is_child, region=region)
            for held in placements
        )
        if ended_since or fits:
            done.append(pk)
    inbox_item.objects.filter(pk__in=done).update(read_at=timezone.now())
    items.update(action="phone_managers")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0019_inboxitem_action"),
        ("care_providers", "0003_offer_note_for_the_provider"),
        ("referrals", "0015_local_authority_read_in_clear"),
    ]

    operations = [migrations.RunPython(phone_managers_items, migrations.RunPython.noop)]
