"""Who is told of each event (SPEC §6, with §4's effects): the organisations that get outbox rows and
the users that get inbox items, and nobody else."""

import datetime

import pytest

from accounts.models import User
from notifications.models import Event, InboxItem, Notification
from notifications.services import inbox_message
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.coming_of_age import tell_of_those_now_18
from tests.api.cases import Case, bring_to
from tests.factories import (
    CareProviderFactory,
    contractor,
    manager,
    provider_user,
    referral_fields,
    referred_as_a_child_turning_18,
    responder,
)

pytestmark = pytest.mark.django_db

# A note that names the person: it must stay in the case and never reach a notification.
NAMING_NOTE = "{given_name} {family_name}".format(**referral_fields())


def assess(case: Case) -> None:
    services.assess_referral(
        referral_id=case.referral.pk, actor=case.manager, risk="high", route="accommodation"
    )


def decline(case: Case) -> None:
    services.decline_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="other", note=NAMING_NOTE
    )


def reject(case: Case) -> None:
    services.reject_offer(
        referral_id=case.referral.pk, actor=case.provider_user, reason="unsuitable", note=NAMING_NOTE
    )


def let_the_offer_expire(case: Case) -> None:
    offer = case.referral.offers.get()
    sweep_deadlines(now=offer.response_due_at + datetime.timedelta(minutes=1))


def withdraw_by_the_referrer(case: Case) -> None:
    services.withdraw_referral(
        referral_id=case.referral.pk, actor=case.responder, reason="consent_withdrawn", note=NAMING_NOTE
    )


def withdraw_by_a_manager(case: Case) -> None:
    services.withdraw_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="duplicate", note=NAMING_NOTE
    )


def withdraw_the_offer(case: Case) -> None:
    services.revoke_offer(
        referral_id=case.referral.pk, actor=case.manager, reason="safety_concern", note=NAMING_NOTE
    )


def accept(case: Case) -> None:
    services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)


def turn_18(case: Case) -> None:
    referred_as_a_child_turning_18(case.referral, days_from_today=-1)
    tell_of_those_now_18()


@pytest.mark.parametrize(
    ("state", "action", "event", "told"),
    [
        pytest.param("received", assess, Event.REFERRAL_ASSESSED, {"referrer"}, id="assessed"),
        pytest.param("received", decline, Event.REFERRAL_DECLINED, {"referrer"}, id="declined"),
        pytest.param("offered", reject, Event.OFFER_REJECTED, {"managers"}, id="offer-rejected"),
        pytest.param("offered", let_the_offer_expire, Event.OFFER_EXPIRED, {"managers"}, id="offer-expired"),
        # §6 names no one for a withdrawal and §4 says only "notify": the referrer and the managers,
        # who may be searching for a placement, are told whichever of them withdrew.
        pytest.param(
            "offered",
            withdraw_by_the_referrer,
            Event.REFERRAL_WITHDRAWN,
            {"referrer", "managers"},
            id="withdrawn-by-referrer",
        ),
        pytest.param(
            "offered",
            withdraw_by_a_manager,
            Event.REFERRAL_WITHDRAWN,
            {"referrer", "managers"},
            id="withdrawn-by-manager",
        ),
        # The provider that was waiting to answer learns its offer is revoked, and nothing more.
        pytest.param(
            "offered", withdraw_by_the_referrer, Event.OFFER_REVOKED, {"provider"}, id="revoked-by-referrer"
        ),
        pytest.param(
            "offered", withdraw_by_a_manager, Event.OFFER_REVOKED, {"provider"}, id="revoked-by-manager"
        ),
        # The managers' withdrawal of the offer alone: the provider is told, neither why nor the note.
        pytest.param("offered", withdraw_the_offer, Event.OFFER_REVOKED, {"provider"}, id="offer-withdrawn"),
        # §6 says the referring organisation; §4's accept adds the managers.
        pytest.param("offered", accept, Event.REFERRAL_PLACED, {"referrer", "managers"}, id="placed"),
        # Those who must ask for the adult's consent and find them a placement for adults if need be.
        pytest.param("placed", turn_18, Event.PERSON_NOW_18, {"managers", "provider"}, id="now-18"),
    ],
)
def test_each_event_reaches_the_organisations_the_spec_names_and_no_one_else(state, action, event, told):
    case = bring_to(state)
    # A colleague on each side, to show every user of a told organisation gets the inbox item, and
    # bystanders of each kind, to show no one else does.
    manager()
    responder(organisation=case.responder.organisation)
    provider_user(case.provider)
    responder()
    provider_user(CareProviderFactory())
    organisations = {
        "referrer": case.responder.organisation,
        "managers": contractor(),
        "provider": case.provider.organisation,
    }

    action(case)

    rows = Notification.objects.filter(referral_id=case.referral.pk, event=event)
    items = InboxItem.objects.filter(referral_id=case.referral.pk, event=event)
    told_organisations = {organisations[name].pk for name in told}
    assert set(rows.values_list("organisation_id", flat=True)) == told_organisations
    assert set(items.values_list("user_id", flat=True)) == set(
        User.objects.filter(organisation_id__in=told_organisations).values_list("pk", flat=True)
    )
    # What they are told is the event, the case reference and any due time, never who the person is
    # (the note that names them included).
    reference = case.refresh().reference
    assert set(rows.values_list("reference", flat=True)) == {reference}
    due = set(rows.values_list("due_at", flat=True))
    assert set(items.values_list("message", flat=True)) == {inbox_message(event, reference, *due)}
