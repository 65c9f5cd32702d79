"""The managers withdraw a pending offer before its answer: its provider cannot take the person any more
(a correction made them a child, or moved them out of its regions), or it does not answer. The case
stays assessed with its placement clock running, and the person can be offered elsewhere at once."""

import datetime

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from care_providers.models import OfferState
from notifications.models import Event, InboxItem, Notification
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.exceptions import NotPermitted, OfferNotPending
from referrals.local_time import local_time
from referrals.models import Clock, Referral
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, manager, provider_user

pytestmark = pytest.mark.django_db

NOTE = "Their duty phone rang out twice; she cannot wait another night."


def revoke(referral: Referral, actor, *, reason: str = "no_answer", note: str = NOTE) -> Referral:
    return services.revoke_offer(referral_id=referral.pk, actor=actor, reason=reason, note=note)


def test_the_offer_is_withdrawn_and_the_case_stays_assessed_with_its_placement_clock_running():
    case = bring_to("offered")
    before = case.refresh()
    placement = case.referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    revoke(case.referral, manager())
    referral = case.refresh()
    assert referral.state == "assessed" and referral.state_changed_at == before.state_changed_at
    assert case.referral.offers.get().state == OfferState.REVOKED
    running = case.referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    assert (running.pk, running.due_at) == (placement.pk, placement.due_at)
    # The offer's response clock stops, as when an offer is answered or expires: nothing to sweep.
    assert not case.referral.deadlines.filter(clock=Clock.OFFER_RESPONSE, stopped_at__isnull=True).exists()


def test_the_history_holds_who_withdrew_which_offer_and_why_and_the_audit_keeps_the_note_out():
    case = bring_to("offered")
    boss = manager()
    revoke(case.referral, boss, reason="provider_unsuitable")
    log = case.referral.transitions.order_by("-at", "-id").first()
    offer = case.referral.offers.get()
    assert (log.transition, log.from_state, log.to_state, log.actor) == (
        "revoke_offer",
        "assessed",
        "assessed",
        boss,
    )
    assert log.input == {
        "offer": offer.pk,
        "provider": case.provider.pk,
        "reason": "provider_unsuitable",
        "note": NOTE,
    }
    audit = AuditEvent.objects.get(referral=case.referral, what="transition: revoke_offer")
    assert audit.actor == boss
    assert audit.changes["reason"] == {"after": "provider_unsuitable"}
    assert "duty phone" not in str(audit.changes)


def test_the_offer_keeps_why_the_managers_withdrew_it_and_one_revoked_with_its_case_has_no_reason():
    withdrawn = bring_to("offered")
    revoke(withdrawn.referral, withdrawn.manager, reason="safety_concern")
    with_its_case = bring_to("offered")
    services.withdraw_referral(
        referral_id=with_its_case.referral.pk, actor=with_its_case.manager, reason="duplicate"
    )
    assert withdrawn.referral.offers.get().revoke_reason == "safety_concern"
    assert with_its_case.referral.offers.get().revoke_reason == ""


def test_the_provider_is_told_and_its_items_asking_for_an_answer_are_read():
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"]))
    # A correction leaves the provider unable to take the person: it is asked to reject the offer, the
    # managers to offer the person elsewhere.
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="scotland"
    )
    offer = case.referral.offers.get()
    sweep_deadlines(now=offer.response_due_at - datetime.timedelta(minutes=1))  # its answer is due soon
    providers = InboxItem.objects.filter(
        referral=case.referral, user=case.provider_user, read_at__isnull=True
    )
    assert {(item.event, item.action) for item in providers} >= {
        (Event.OFFER_MADE, ""),
        (Event.DEADLINE_REMINDER, ""),
        (Event.REFERRAL_CORRECTED, "reject_offer"),
    }

    revoke(case.referral, case.manager, reason="provider_unsuitable")

    assert {(item.event, item.action) for item in providers.all()} == {(Event.OFFER_REVOKED, "")}
    # In the words the managers' action and the provider's offers page use.
    assert providers.get().message == f"Placement offer withdrawn: {case.referral.reference}"
    told = Notification.objects.filter(referral=case.referral, event=Event.OFFER_REVOKED)
    assert set(told.values_list("organisation_id", flat=True)) == {case.provider.organisation_id}
    # The managers still have a new offer to make: that item is read once they make it.
    asked_again = InboxItem.objects.filter(referral=case.referral, action="offer_again", read_at__isnull=True)
    assert asked_again.exists()
    services.offer_placement(
        referral_id=case.referral.pk,
        actor=case.manager,
        provider_id=CareProviderFactory(regions=["scotland"]).pk,
    )
    assert not asked_again.exists()


@pytest.mark.parametrize(
    ("end", "said"),
    [
        ("withdrawn", "This offer was withdrawn."),
        ("rejected", "This offer was rejected."),
        ("expired", "This offer ran out unanswered."),
    ],
)
def test_an_answer_that_meets_the_ended_offer_under_the_lock_is_told_what_became_of_it(
    monkeypatch, end, said
):
    case = bring_to("offered")
    if end == "withdrawn":
        revoke(case.referral, case.manager)
    elif end == "rejected":  # by a colleague
        services.reject_offer(
            referral_id=case.referral.pk, actor=provider_user(case.provider), reason="no_capacity"
        )
    else:
        services.expire_offer(offer_id=case.referral.offers.get().pk)
    # As when the answer was checked while the offer was pending, then waited for the case's row.
    monkeypatch.setattr(
        services,
        "_lock_visible",
        lambda referral_id, actor: Referral.objects.select_for_update().get(pk=referral_id),
    )
    with pytest.raises(OfferNotPending) as refused:
        services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)
    assert refused.value.message == said


def ended_at(moment: datetime.datetime) -> str:
    """A time as a late answer is told when its offer ended."""
    return local_time(moment, "%H:%M on %-d %B %Y")


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_an_answer_sent_once_the_withdrawal_took_the_case_out_of_sight_is_told_how_and_when_it_ended(answer):
    case = bring_to("offered")
    # Offered three hours ago, withdrawn by the managers two hours ago, then the referral withdrawn: the
    # offer ended with the managers' withdrawal, and their reason and note are not the provider's.
    offer = case.referral.offers.get()
    case.referral.offers.update(offered_at=timezone.now() - datetime.timedelta(hours=3))
    revoke(case.referral, case.manager, reason="safety_concern")
    withdrawn = timezone.now() - datetime.timedelta(hours=2)
    case.referral.transitions.filter(transition="revoke_offer").update(at=withdrawn)
    services.withdraw_referral(referral_id=case.referral.pk, actor=case.manager, reason="duplicate")
    # A colleague of whoever opened the offer, answering from a page opened before.
    colleague = provider_user(case.provider)
    with pytest.raises(OfferNotPending) as refused:
        if answer == "accept":
            services.accept_offer(referral_id=case.referral.pk, actor=colleague)
        else:
            services.reject_offer(referral_id=case.referral.pk, actor=colleague, reason="no_capacity")
    assert refused.value.message == (
        f"Your answer was not recorded. The placement offer for {case.referral.reference} was withdrawn by the "
        f"managers at {ended_at(withdrawn)}. Nothing more is needed from you."
    )
    assert NOTE not in refused.value.message and "afety" not in refused.value.message
    offer.refresh_from_db()
    assert offer.state == OfferState.REVOKED
    assert not case.referral.transitions.filter(transition__in=("accept", "reject")).exists()


@pytest.mark.parametrize(
    ("end", "said"),
    [
        ("expired", "ran out unanswered at {due}; the managers will look for another placement."),
        ("withdrawn with the referral", "was withdrawn at {now}, because the referral was withdrawn."),
        ("rejected by a colleague", "was rejected by {colleague} at {now}."),
    ],
)
def test_an_answer_to_an_offer_ended_unaccepted_out_of_sight_says_how_it_ended_by_reference_alone(end, said):
    case = bring_to("offered", given_name="Merhawit", family_name="Tran", contact_phone="07700 900456")
    offer = case.referral.offers.get()
    colleague = provider_user(case.provider)
    if end == "expired":
        services.expire_offer(offer_id=offer.pk)
    elif end == "withdrawn with the referral":
        services.withdraw_referral(referral_id=case.referral.pk, actor=case.responder, reason="duplicate")
    else:
        services.reject_offer(referral_id=case.referral.pk, actor=colleague, reason="safety_concern")
    with pytest.raises(OfferNotPending) as refused:
        services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)
    offer.refresh_from_db()
    # When it ended: when it ran out, when the referral's withdrawal was logged, when it was answered.
    logged = case.referral.transitions.filter(transition="withdraw").values_list("at", flat=True).first()
    words = said.format(
        due=ended_at(offer.response_due_at),
        now=ended_at(logged or offer.responded_at or offer.response_due_at),
        colleague=colleague.username,
    )
    assert refused.value.message == (
        f"Your answer was not recorded. The placement offer for {case.referral.reference} {words} Nothing more "
        "is needed from you."
    )
    for personal in ("Merhawit", "Tran", "900456", "Eritrea", "ER", "duplicate", "afety"):
        assert personal not in refused.value.message


def test_an_answer_from_a_provider_never_offered_the_person_or_that_took_them_is_the_case_not_found():
    case = bring_to("offered")
    revoke(case.referral, case.manager)
    with pytest.raises(Referral.DoesNotExist):
        services.accept_offer(referral_id=case.referral.pk, actor=provider_user(CareProviderFactory()))
    # A provider that accepted the person, and was reallocated away from them, has nothing to answer.
    placed = bring_to("placed")
    services.reallocate_referral(referral_id=placed.referral.pk, actor=placed.manager, reason="needs_changed")
    with pytest.raises(Referral.DoesNotExist):
        services.accept_offer(referral_id=placed.referral.pk, actor=placed.provider_user)


def test_a_new_offer_can_be_made_straight_after():
    case = bring_to("offered")
    revoke(case.referral, case.manager)
    elsewhere = CareProviderFactory()
    offer = services.offer_placement(
        referral_id=case.referral.pk, actor=case.manager, provider_id=elsewhere.pk
    )
    assert offer.state == OfferState.PENDING and offer.provider == elsewhere
    assert [entry.transition for entry in case.referral.transitions.order_by("at", "id")][-2:] == [
        "revoke_offer",
        "offer",
    ]


@pytest.mark.parametrize("who", ["provider", "referrer"])
def test_only_managers_withdraw_an_offer(who):
    case = bring_to("offered")
    actor = case.provider_user if who == "provider" else case.responder
    with pytest.raises(NotPermitted):
        revoke(case.referral, actor)
    assert case.referral.offers.get().state == OfferState.PENDING


@pytest.mark.parametrize(
    ("state", "said"),
    [
        ("assessed", "This referral has no placement offer to withdraw."),
        ("placed", "was accepted, so there is no offer waiting for an answer to withdraw"),
        ("withdrawn", "This referral has no placement offer to withdraw."),
    ],
)
def test_no_offer_awaiting_its_answer_is_a_conflict_that_says_what_became_of_it(state, said):
    case = bring_to(state)
    with pytest.raises(OfferNotPending) as refused:
        revoke(case.referral, case.manager)
    assert said in refused.value.message
    assert not case.referral.transitions.filter(transition="revoke_offer").exists()


def test_an_offer_answered_meanwhile_cannot_be_withdrawn():
    case = bring_to("offered")
    services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="no_capacity")
    with pytest.raises(OfferNotPending) as refused:
        revoke(case.referral, case.manager)
    assert refused.value.message.startswith(f"The offer to {case.provider.name} was rejected")
    assert case.referral.offers.get().state == OfferState.REJECTED


def test_an_offer_past_its_answer_time_is_left_for_a_new_offer_to_close():
    case = bring_to("offered")
    case.referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(OfferNotPending) as refused:
        revoke(case.referral, case.manager)
    assert "ran out unanswered" in refused.value.message and "make a new offer" in refused.value.message
    assert case.referral.offers.get().state == OfferState.PENDING
