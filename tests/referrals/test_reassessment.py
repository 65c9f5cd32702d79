"""Changing an assessment while the person waits for a placement: their needs changed (a bed now, or
outreach only, or a higher risk), so the route every suggestion and offer check reads changes with it."""

import datetime

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from care_providers.models import OfferState
from care_providers.selectors import suggested_providers
from notifications.models import Notification
from referrals import services
from referrals.choices import Service
from referrals.exceptions import (
    AssessmentUnchanged,
    NotPermitted,
    OfferAlreadyPending,
    ProviderCannotTake,
    TransitionNotAllowed,
)
from referrals.models import Clock, Referral
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, manager, responder

pytestmark = pytest.mark.django_db


def reassess(referral: Referral, actor, *, risk: str = "high", route: str = "outreach", notes: str = ""):
    return services.reassess_referral(
        referral_id=referral.pk, actor=actor, risk=risk, route=route, notes=notes
    )


def test_a_manager_changes_the_risk_and_route_and_the_case_stays_assessed():
    case = bring_to("assessed")  # medium risk, accommodation
    before = case.refresh()
    reassess(case.referral, manager(), risk="high", route="outreach")
    referral = case.refresh()
    assert (referral.state, referral.risk, referral.route) == ("assessed", "high", "outreach")
    # The first assessment's time, from which the reports count the time to a placement, stays.
    assert referral.assessed_at == before.assessed_at
    assert referral.state_changed_at == before.state_changed_at


def test_the_risk_alone_may_change():
    case = bring_to("assessed")
    reassess(case.referral, case.manager, risk="high", route="accommodation")
    assert (case.refresh().risk, case.referral.route) == ("high", "accommodation")


def test_the_log_holds_risk_route_and_notes_and_the_audit_keeps_the_notes_out():
    case = bring_to("assessed")
    reassess(case.referral, case.manager, notes="Moved in with her sister; wants outreach only.")
    log = case.referral.transitions.order_by("-at", "-id").first()
    assert (log.transition, log.from_state, log.to_state, log.actor) == (
        "reassess",
        "assessed",
        "assessed",
        case.manager,
    )
    assert log.input == {
        "risk": "high",
        "route": "outreach",
        "notes": "Moved in with her sister; wants outreach only.",
    }
    audit = AuditEvent.objects.get(referral=case.referral, what="transition: reassess")
    assert audit.actor == case.manager
    assert audit.changes["route"] == {"before": "accommodation", "after": "outreach"}
    assert "sister" not in str(audit.changes)


def test_the_placement_clock_keeps_its_due_time():
    case = bring_to("assessed")
    clock = case.referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    reassess(case.referral, case.manager)
    again = case.referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    assert (again.pk, again.due_at, again.remind_at) == (clock.pk, clock.due_at, clock.remind_at)


def test_nobody_is_notified():
    case = bring_to("assessed")
    before = Notification.objects.count()
    reassess(case.referral, case.manager)
    assert Notification.objects.count() == before


def test_suggestions_and_offers_follow_the_new_route():
    outreach_only = CareProviderFactory(services=[Service.OUTREACH])
    case = bring_to("assessed")

    def suggestion():
        return next(s for s in suggested_providers(case.refresh()) if s.provider == outreach_only)

    assert not suggestion().suitable
    with pytest.raises(ProviderCannotTake):
        services.offer_placement(
            referral_id=case.referral.pk, actor=case.manager, provider_id=outreach_only.pk
        )
    reassess(case.referral, case.manager, route="outreach")
    assert suggestion().suitable and suggestion().free_beds is None
    offer = services.offer_placement(
        referral_id=case.referral.pk, actor=case.manager, provider_id=outreach_only.pk
    )
    assert offer.provider == outreach_only


def test_back_to_accommodation_the_outreach_only_provider_no_longer_fits():
    outreach_only = CareProviderFactory(services=[Service.OUTREACH])
    case = bring_to("assessed", route="outreach")
    reassess(case.referral, case.manager, route="accommodation")
    with pytest.raises(ProviderCannotTake, match="outreach only"):
        services.offer_placement(
            referral_id=case.referral.pk, actor=case.manager, provider_id=outreach_only.pk
        )


@pytest.mark.parametrize("who", ["referrer", "offered provider"])
def test_only_a_manager_may_reassess(who):
    case = bring_to("offered")
    actor = case.responder if who == "referrer" else case.provider_user
    with pytest.raises(NotPermitted):
        reassess(case.referral, actor)
    assert case.refresh().route == "accommodation"


def test_a_case_out_of_scope_does_not_exist_for_the_actor():
    case = bring_to("assessed")
    with pytest.raises(Referral.DoesNotExist):
        reassess(case.referral, responder())


@pytest.mark.parametrize("state", ["received", "placed", "missing", "declined", "withdrawn", "recovered"])
def test_only_an_assessed_case_is_reassessed(state):
    case = bring_to(state)
    before = case.referral.transitions.count()
    with pytest.raises(
        TransitionNotAllowed,
        match="(cannot|can no longer) have its assessment changed|once they are reallocated",
    ):
        reassess(case.referral, case.manager)
    assert case.referral.transitions.count() == before


def test_a_pending_offer_is_a_409_that_says_to_wait_for_its_answer():
    case = bring_to("offered")
    with pytest.raises(OfferAlreadyPending) as refused:
        reassess(case.referral, case.manager)
    assert refused.value.status_code == 409
    assert case.provider.name in refused.value.message
    assert "Wait for the answer, or for the offer to run out" in refused.value.message
    assert case.refresh().route == "accommodation"
    assert not case.referral.transitions.filter(transition="reassess").exists()


def test_a_pending_offer_past_its_answer_time_is_expired_first():
    case = bring_to("offered")
    offer = case.referral.offers.get()
    offer.response_due_at = timezone.now() - datetime.timedelta(minutes=1)
    offer.save()
    reassess(case.referral, case.manager)
    offer.refresh_from_db()
    assert offer.state == OfferState.EXPIRED
    steps = list(case.referral.transitions.order_by("at", "id").values_list("transition", flat=True))
    assert steps[-2:] == ["expire_offer", "reassess"]
    assert case.refresh().route == "outreach"


def test_the_same_risk_and_route_is_a_400_that_records_nothing():
    case = bring_to("assessed")
    before = case.referral.transitions.count()
    with pytest.raises(AssessmentUnchanged) as refused:
        reassess(case.referral, case.manager, risk="medium", route="accommodation")
    assert refused.value.status_code == 400
    assert refused.value.message.startswith("Nothing changed")
    assert case.referral.transitions.count() == before


def test_a_person_reallocated_because_their_needs_changed_gets_a_new_route():
    case = bring_to("placed")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    reassess(case.referral, case.manager, route="outreach")
    assert (case.refresh().state, case.referral.route) == ("assessed", "outreach")
