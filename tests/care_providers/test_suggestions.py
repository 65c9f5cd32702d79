import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from care_providers.models import PlacementOffer
from care_providers.selectors import median_minutes_to_accept, suggested_providers
from referrals import services
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, manager

pytestmark = pytest.mark.django_db


def test_a_provider_that_rejected_the_person_is_suggested_after_the_others_saying_so():
    roomy = CareProviderFactory(name="Roomy House", beds_women=9)
    case = bring_to("offered", provider=roomy)
    small = CareProviderFactory(name="Small House", beds_women=1)
    services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="no_capacity")

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (roomy, small)]
    assert [s.provider for s in ranked] == [small, roomy]
    assert ranked[1].reasons[0].startswith("rejected this person on ")
    assert ranked[1].reasons[0].endswith("(no capacity)")


def test_a_provider_that_let_the_offer_expire_is_suggested_after_the_others_saying_so():
    slow = CareProviderFactory(name="Slow House", beds_women=9)
    case = bring_to("offered", provider=slow)
    other = CareProviderFactory(name="Other House", beds_women=1)
    services.expire_offer(offer_id=case.referral.offers.get().pk)

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (slow, other)]
    assert [s.provider for s in ranked] == [other, slow]
    assert "let the offer of this person made on" in ranked[1].reasons[0]


def test_a_provider_whose_offer_the_managers_withdrew_is_suggested_after_the_others_saying_why():
    unsafe = CareProviderFactory(name="Unsafe House", beds_women=9)
    case = bring_to("offered", provider=unsafe)
    other = CareProviderFactory(name="Other House", beds_women=1)
    services.revoke_offer(referral_id=case.referral.pk, actor=case.manager, reason="safety_concern")

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (unsafe, other)]
    assert [s.provider for s in ranked] == [other, unsafe]
    day = timezone.localtime(case.referral.offers.get().offered_at)
    assert ranked[1].reasons[0] == (
        f"offer of this person made on {day:%-d %b} withdrawn by the managers (safety concern)"
    )


def test_an_offer_revoked_with_its_case_says_nothing_of_its_provider():
    revoked_with_the_case = CareProviderFactory(name="Roomy House", beds_women=9)
    case = bring_to("offered", provider=revoked_with_the_case)
    other = CareProviderFactory(name="Other House", beds_women=1)
    # The offer goes with the case, for no reason of the provider's.
    services.withdraw_referral(referral_id=case.referral.pk, actor=case.manager, reason="duplicate")

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (revoked_with_the_case, other)]
    assert [s.provider for s in ranked] == [revoked_with_the_case, other]
    assert "withdrawn" not in " ".join(ranked[0].reasons)


def test_an_accepted_offer_without_a_response_time_is_left_out_of_the_acceptance_speed():
    quick = CareProviderFactory(name="Quick House", beds_women=9)
    unrecorded = CareProviderFactory(name="Unrecorded House", beds_women=9)
    bring_to("placed", provider=quick)
    untimed = bring_to("placed", provider=unrecorded)
    # An accepted offer whose response time was never recorded, as a row written outside the workflow.
    PlacementOffer.objects.filter(referral=untimed.referral).update(responded_at=None)

    speed = median_minutes_to_accept(timezone.now() - datetime.timedelta(days=1))

    assert quick.pk in speed
    assert unrecorded.pk not in speed
    # The case is still offered to providers, ranked without a speed for the unrecorded one.
    case = bring_to("assessed")
    assert {s.provider for s in suggested_providers(case.refresh())} >= {quick, unrecorded}


def test_a_provider_whose_free_beds_are_all_offered_to_others_comes_after_one_with_a_bed_not_yet_offered():
    boss = manager()
    # Sharing both the person's languages would put it first on score alone.
    busy = CareProviderFactory(name="Busy House", beds_women=3, languages=["ti", "en"])
    for _ in range(3):
        bring_to("offered", provider=busy, boss=boss)
    quiet = CareProviderFactory(name="Quiet House", beds_women=1)
    case = bring_to("assessed", boss=boss)

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (busy, quiet)]

    assert [s.provider for s in ranked] == [quiet, busy]
    assert ranked[1].suitable  # still offerable: an offer may be turned down
    assert (ranked[1].free_beds, ranked[1].offered_beds) == (3, 3)
    assert ranked[1].reasons[0] == (
        "3 free beds for women, 3 already offered: a bed is free for this person only if one of those "
        "offers is turned down"
    )
    assert (ranked[0].offered_beds, ranked[0].reasons[0]) == (0, "1 free bed for women")


def test_only_offers_that_may_still_take_a_bed_of_the_same_kind_count_as_already_offered():
    boss = manager()
    busy = CareProviderFactory(name="Busy House", beds_women=2, beds_men=2)
    bring_to("offered", provider=busy, boss=boss)  # a woman: counts
    bring_to("offered", provider=busy, boss=boss, gender="male")  # a man's bed
    bring_to("offered", provider=busy, boss=boss, route="outreach")  # no bed
    late = bring_to("offered", provider=busy, boss=boss)  # past its answer time: can take no bed
    late.referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    # The person's own offer, past its answer time, which the next offer closes.
    case = bring_to("offered", provider=busy, boss=boss)
    case.referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))

    busy_row = next(s for s in suggested_providers(case.refresh()) if s.provider == busy)

    assert (busy_row.free_beds, busy_row.offered_beds) == (2, 1)
    assert busy_row.reasons[0] == "2 free beds for women, 1 already offered"
    outreach = bring_to("assessed", boss=boss, route="outreach")
    assert next(s for s in suggested_providers(outreach.refresh()) if s.provider == busy).offered_beds is None


def test_suggestions_cost_the_same_queries_for_one_provider_as_for_several_with_offers_waiting():
    boss = manager()
    case = bring_to("assessed", boss=boss)
    bring_to("offered", boss=boss)
    with CaptureQueriesContext(connection) as one:
        suggested_providers(case.refresh())
    for _ in range(4):
        bring_to("offered", boss=boss)

    with CaptureQueriesContext(connection) as several:
        ranked = suggested_providers(case.refresh())

    assert len([s for s in ranked if s.offered_beds]) == 5
    assert len(several) == len(one)


def test_a_provider_speaking_the_persons_language_comes_before_one_with_more_free_beds_speaking_none():
    speaks_it = CareProviderFactory(name="Tigrinya House", beds_women=1, languages=["ti"])
    roomy = CareProviderFactory(name="Roomy House", beds_women=8, languages=["fr"])
    case = bring_to("assessed", languages=["ti"], interpreter_needed=True)

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (speaks_it, roomy)]

    assert [s.provider for s in ranked] == [speaks_it, roomy]
    assert ranked[0].reasons[:2] == ["1 free bed for women", "speaks Tigrinya"]
    assert ranked[1].reasons[:2] == [
        "8 free beds for women",
        "no shared language: an interpreter will be needed",
    ]


def test_for_a_person_needing_an_interpreter_english_is_no_shared_language():
    english_only = CareProviderFactory(name="English House", beds_women=2, languages=["en"])
    speaks_it = CareProviderFactory(name="Tigrinya House", beds_women=1, languages=["ti"])
    # Some English, not enough to be supported in it.
    case = bring_to("assessed", languages=["ti", "en"], interpreter_needed=True)

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (english_only, speaks_it)]

    assert [s.provider for s in ranked] == [speaks_it, english_only]
    assert ranked[1].reasons[1] == "no shared language: an interpreter will be needed"


def test_for_a_person_needing_no_interpreter_english_is_a_shared_language():
    english_only = CareProviderFactory(name="English House", beds_women=2, languages=["en"])
    case = bring_to("assessed", languages=["ti", "en"], interpreter_needed=False)

    row = next(s for s in suggested_providers(case.refresh()) if s.provider == english_only)

    assert row.shares_language
    assert row.reasons[1] == "speaks English"


def test_a_provider_the_person_was_moved_out_of_for_their_safety_is_suggested_after_the_others_saying_so():
    unsafe = CareProviderFactory(name="Unsafe House", beds_women=9, languages=["ti"])
    case = bring_to("placed", provider=unsafe)
    other = CareProviderFactory(name="Other House", beds_women=1)
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="safety_concern")

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (unsafe, other)]

    assert [s.provider for s in ranked] == [other, unsafe]
    assert ranked[1].suitable  # still offerable: the managers may know it is safe again
    day = timezone.localtime(case.referral.placements.get().ended_at)
    assert ranked[1].reasons[0] == f"placed this person until {day:%-d %b}, then reallocated (safety concern)"


def test_a_provider_the_person_was_moved_out_of_as_their_needs_changed_keeps_its_place_saying_so():
    familiar = CareProviderFactory(name="Familiar House", beds_women=9, languages=["ti"])
    case = bring_to("placed", provider=familiar)
    other = CareProviderFactory(name="Other House", beds_women=1)
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")

    ranked = [s for s in suggested_providers(case.refresh()) if s.provider in (familiar, other)]

    assert [s.provider for s in ranked] == [familiar, other]
    assert ranked[0].reasons[0].endswith(", then reallocated (needs changed)")
