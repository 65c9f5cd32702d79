"""The care provider portal: offers waiting, the caseload of people placed, and past placements.

Each list is a selector (``care_providers.selectors``) that starts from ``referrals_visible_to``, so a
provider never lists a case it may not see; the case page and its actions are the shared ones in
``referrals.views``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import capfirst

from audit.services import record_reads
from referrals.choices import BED_FOR, BedKind, Misfit, language_names, misfits_in_words
from referrals.views import paginate
from referrals.wording import age_words, time_left_words

from .models import CareProvider
from .selectors import caseload_of, free_beds_of, offers_awaiting_answer, past_placements_of
from .services import bed_needed, provider_misfits

if TYPE_CHECKING:
    from accounts.models import User
    from referrals.models import Referral


def _provider_of(request: HttpRequest) -> tuple[User, CareProvider]:
    user: User = request.user  # type: ignore[assignment]
    provider = user.provider
    if provider is None:
        raise PermissionDenied("These pages are for care providers.")
    return user, provider


def free_beds_words(provider: CareProvider, free_beds: dict[str, int]) -> str:
    """ "3 for women, 0 for men, 1 for a family": what the provider can still take, to read before
    answering its offers; empty for a provider with no beds at all (outreach only)."""
    if not any(provider.capacity(kind) for kind in BedKind.values):
        return ""
    return ", ".join(f"{free_beds[kind]} {BED_FOR[BedKind(kind)]}" for kind in BedKind.values)


def needs_words(referral: Referral) -> str:
    """What, beside a bed, decides whether the provider can support the person, to read on its offers
    list: "Speaks Somali, Arabic; needs an interpreter; needs medical care"."""
    names = language_names()
    languages = ", ".join(names.get(code, code) for code in referral.languages)
    words = [f"speaks {languages}"] if languages else []
    if referral.interpreter_needed:
        words.append("needs an interpreter")
    if referral.needs_medical:
        words.append("needs medical care")
    return capfirst("; ".join(words))


# The longest note from the managers the offers list shows in full; a longer one is read on the case
# page, as a card of the list on a phone would otherwise grow to a page.
NOTE_SHOWN_IN_LIST = 200


@login_required
def offers(request: HttpRequest) -> HttpResponse:
    """Offers waiting for this provider's answer, the most urgent first (emergencies, then children,
    then the answer due soonest), each with who the person is in outline (age, gender, the bed they
    need, their languages and whether they need an interpreter or medical care), how long is left to
    answer (due soon once the offer's reminder has gone), a flag on those it has no free bed for or can
    no longer accept, and the managers' note if short; above them, the free beds."""
    user, provider = _provider_of(request)
    waiting = offers_awaiting_answer(user, provider)
    page = paginate(request, waiting)
    free_beds = free_beds_of(provider)
    now = timezone.now()
    today = timezone.localdate(now)
    for case in page.object_list:
        ran_out = case.offer_due <= now  # type: ignore[attr-defined]
        case.ran_out = ran_out  # type: ignore[attr-defined]
        case.time_left = time_left_words(case.offer_due, now)  # type: ignore[attr-defined]
        # Due soon from the reminder that tells the provider to answer.
        reminded = case.offer_remind_at is not None and case.offer_remind_at <= now  # type: ignore[attr-defined]
        case.due_soon = reminded and not ran_out  # type: ignore[attr-defined]
        kind = bed_needed(case)
        bed_for = BED_FOR[BedKind(kind)] if kind else ""
        case.age_words = age_words(case, today)  # type: ignore[attr-defined]
        case.bed_words = f"Bed {bed_for}" if kind else "None (outreach)"  # type: ignore[attr-defined]
        case.needs_words = needs_words(case)  # type: ignore[attr-defined]
        # A correction can make the person one the provider does not take: the offer is to be rejected.
        # Not one that ran out, which can no longer be answered at all (Harbour closes it).
        misfits = [] if ran_out else provider_misfits(provider, case)
        # With no bed of that kind at all, none will be free: the offer is one it cannot accept.
        waits_for_a_bed = kind and not free_beds[kind] and Misfit.BEDS not in misfits and not ran_out
        case.no_free_bed = f"No free bed {bed_for}" if waits_for_a_bed else ""  # type: ignore[attr-defined]
        case.cannot_accept = (  # type: ignore[attr-defined]
            f"Cannot accept: you do not {misfits_in_words(misfits, case.region, kind)}" if misfits else ""
        )
        note = case.offer_note or ""  # type: ignore[attr-defined]
        case.note_shown = note if len(note) <= NOTE_SHOWN_IN_LIST else ""  # type: ignore[attr-defined]
    # Each person's age and gender are read from their case: audited, like any read of their details.
    record_reads(actor=user, referrals=page.object_list, what="offers list", request=request)
    context = {"provider": provider, "page": page, "free_beds": free_beds_words(provider, free_beds)}
    return render(request, "care_providers/offers.html", context)


@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    """People placed with this provider: the missing first, longest gone first (the missing clock
    starts when they were last seen), then the next check-in due first."""
    user, provider = _provider_of(request)
    people = caseload_of(user, provider)
    page = paginate(request, people)
    # The list names the people the provider supports: each one shown is a read (SPEC §10).
    record_reads(actor=user, referrals=page.object_list, what="caseload", request=request)
    return render(request, "care_providers/caseload.html", {"provider": provider, "page": page})


@login_required
def past_placements(request: HttpRequest) -> HttpResponse:
    """People this provider supported before; their case pages are read-only."""
    user, provider = _provider_of(request)
    people = past_placements_of(user, provider)
    return render(
        request, "care_providers/past.html", {"provider": provider, "page": paginate(request, people)}
    )
