"""The managers' assessed queue: which cases need action first, and what became of each latest offer."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from referrals import services
from referrals.models import Clock, Referral
from referrals.templatetags.moments import moment
from referrals.wording import moment_words
from tests.factories import CareProviderFactory, manager, placed_since, provider_user, submitted_referral
from tests.web.conftest import placed, signed_in

pytestmark = pytest.mark.django_db


def assessed(boss: User, **fields) -> Referral:
    referral = submitted_referral(**fields)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    return referral


def placement_due_in(referral: Referral, hours: int) -> None:
    due = timezone.now() + datetime.timedelta(hours=hours)
    referral.deadlines.filter(clock=Clock.PLACEMENT, stopped_at__isnull=True).update(due_at=due)


def queue_rows(boss: User) -> list[str]:
    html = signed_in(boss).get(reverse("referrals:assessed")).content.decode()
    return html.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]


def row_of(rows: list[str], referral: Referral) -> str:
    [row] = [row for row in rows if f">{referral.reference}</a>" in row]
    return row


def test_the_assessed_queue_says_in_words_what_became_of_each_cases_latest_offer():
    boss = manager()
    medaille, migrant_help = (
        CareProviderFactory(name="Medaille Trust"),
        CareProviderFactory(name="Migrant Help"),
    )
    never_offered = assessed(boss)

    rejected = assessed(boss)
    services.offer_placement(referral_id=rejected.pk, actor=boss, provider_id=migrant_help.pk)
    services.expire_offer(offer_id=rejected.offers.get().pk)  # an earlier offer: only the latest is told
    services.offer_placement(referral_id=rejected.pk, actor=boss, provider_id=medaille.pk)
    services.reject_offer(referral_id=rejected.pk, actor=provider_user(medaille), reason="no_capacity")

    expired = assessed(boss)
    services.offer_placement(referral_id=expired.pk, actor=boss, provider_id=migrant_help.pk)
    expired.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=5))
    services.expire_offer(offer_id=expired.offers.get().pk)

    pending = assessed(boss)
    offer = services.offer_placement(referral_id=pending.pk, actor=boss, provider_id=medaille.pk)
    pending.offers.update(response_due_at=timezone.now() + datetime.timedelta(minutes=30))
    offer.refresh_from_db()

    rows = queue_rows(boss)
    assert '<td data-label="Last offer">None yet</td>' in row_of(rows, never_offered)
    responded = rejected.offers.get(provider=medaille).responded_at
    assert f"Rejected by Medaille Trust: no capacity, {moment_words(responded)}" in row_of(rows, rejected)
    due = expired.offers.get().response_due_at
    assert f"Expired (Migrant Help), {moment_words(due)}" in row_of(rows, expired)
    assert f"Pending with Medaille Trust, answer due {moment_words(offer.response_due_at)}" in row_of(
        rows, pending
    )
    assert ">None<" not in "".join(rows)


def test_an_offer_answered_on_an_earlier_day_gives_the_day_too():
    boss = manager()
    provider = CareProviderFactory(name="Medaille Trust")
    referral = assessed(boss)
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    services.reject_offer(referral_id=referral.pk, actor=provider_user(provider), reason="unsuitable")
    earlier = timezone.now() - datetime.timedelta(days=40)
    referral.offers.update(responded_at=earlier)
    row = row_of(queue_rows(boss), referral)
    shown = timezone.localtime(earlier)
    day = (
        shown.strftime("%-d %b %H:%M")
        if shown.year == timezone.localdate().year
        else shown.strftime("%-d %b %Y %H:%M")
    )
    assert f"Rejected by Medaille Trust: unsuitable, {day}" in row


def test_the_assessed_queue_lists_emergencies_first_then_the_placement_due_soonest():
    boss = manager()
    due_soon = assessed(boss)
    due_later = assessed(boss)
    emergency_due_last = assessed(boss, emergency=True)
    placement_due_in(due_soon, 2)
    placement_due_in(due_later, 10)
    placement_due_in(emergency_due_last, 20)
    # A rejected offer sinks nothing: the case is where its placement deadline puts it.
    provider = CareProviderFactory()
    services.offer_placement(referral_id=due_soon.pk, actor=boss, provider_id=provider.pk)
    services.reject_offer(referral_id=due_soon.pk, actor=provider_user(provider), reason="no_capacity")

    rows = queue_rows(boss)
    order = [
        next(r.reference for r in (emergency_due_last, due_soon, due_later) if r.reference in row)
        for row in rows
    ]
    assert order == [emergency_due_last.reference, due_soon.reference, due_later.reference]


def test_the_assessed_queue_flags_emergencies_and_children_as_the_triage_queue_does():
    boss = manager()
    emergency = assessed(boss, emergency=True)
    child = assessed(boss, date_of_birth=timezone.localdate() - datetime.timedelta(days=365 * 15))
    plain = assessed(boss)
    rows = queue_rows(boss)
    assert '<span class="tag tag-urgent">Emergency</span>' in row_of(rows, emergency)
    assert '<span class="tag">Child</span>' in row_of(rows, child)
    assert '<span class="tag' not in row_of(rows, plain)


def test_the_queues_label_the_flags_of_a_case_that_has_some_and_leave_the_others_empty():
    boss = manager()
    child = submitted_referral(
        date_of_birth=timezone.localdate().replace(year=timezone.localdate().year - 15)
    )
    emergency = submitted_referral(emergency=True)
    neither = submitted_referral()

    def check(page: str) -> None:
        html = signed_in(boss).get(reverse(page)).content.decode()
        rows = html.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
        assert '<td data-label="Flags"><span class="tag">Child</span> </td>' in row_of(rows, child), page
        assert '<span class="tag tag-urgent">Emergency</span>' in row_of(rows, emergency), page
        # A phone leaves an empty cell out, so the row shows no bare "Flags".
        assert "<td></td>" in row_of(rows, neither) and "Flags" not in row_of(rows, neither), page

    check("referrals:triage")
    for referral in (child, emergency, neither):
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    check("referrals:assessed")


def test_the_assessed_queue_flags_a_person_reallocated_while_missing_and_gives_no_placement_due_time():
    referral, staff, boss = placed()
    last_seen = timezone.now() - datetime.timedelta(minutes=30)
    placed_since(referral, last_seen - datetime.timedelta(hours=1))
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=last_seen)
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="safety_concern")
    waiting = assessed(boss)

    rows = queue_rows(boss)
    row = row_of(rows, referral)
    assert f'<span class="tag tag-urgent">Missing</span> since {moment(last_seen)}, when last seen' in row
    assert '<td data-label="Placement due">None until found</td>' in row
    assert "Missing" not in row_of(rows, waiting)

    services.mark_found(referral_id=referral.pk, actor=boss)
    row = row_of(queue_rows(boss), referral)
    assert "Missing" not in row
    due = referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True).due_at
    assert f'<td data-label="Placement due">{moment(due)}</td>' in row
