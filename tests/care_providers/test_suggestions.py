import datetime

import pytest
from django.utils import timezone

from care_providers.models import PlacementOffer
from care_providers.selectors import median_minutes_to_accept, suggested_providers
from referrals import services
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory

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
