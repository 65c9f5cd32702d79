"""One rule of who sees a case and one of who may act: for every role and every state they agree, and
the services, the web and the API apply them in the same order (404, then 403, then 409)."""

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from referrals import services
from referrals.exceptions import HarbourError, NotPermitted
from referrals.models import Referral
from referrals.permissions import (
    PLACED_PROVIDER_ONLY,
    PLACED_PROVIDER_OR_MANAGER,
    TRANSITIONS,
    may_perform,
    was_placed_provider_at_close,
)
from referrals.selectors import referrals_visible_to
from tests.factories import CareProviderFactory, manager, provider_user, responder, submitted_referral

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Raised to undo a probe transition."""


CALLS = {
    "assess": lambda pk, u: services.assess_referral(referral_id=pk, actor=u, risk="low", route="outreach"),
    "reassess": lambda pk, u: services.reassess_referral(
        referral_id=pk, actor=u, risk="high", route="accommodation"
    ),
    "decline": lambda pk, u: services.decline_referral(referral_id=pk, actor=u, reason="other"),
    "withdraw": lambda pk, u: services.withdraw_referral(referral_id=pk, actor=u, reason="other"),
    "offer": lambda pk, u: services.offer_placement(referral_id=pk, actor=u, provider_id=OTHER_PROVIDER[0]),
    "accept": lambda pk, u: services.accept_offer(referral_id=pk, actor=u),
    "reject": lambda pk, u: services.reject_offer(referral_id=pk, actor=u, reason="other"),
    "revoke_offer": lambda pk, u: services.revoke_offer(referral_id=pk, actor=u, reason="no_answer"),
    "record_progress": lambda pk, u: services.record_progress(referral_id=pk, actor=u, note="n"),
    "report_missing": lambda pk, u: services.report_missing(
        referral_id=pk, actor=u, last_seen_at=timezone.now()
    ),
    "found": lambda pk, u: services.mark_found(referral_id=pk, actor=u),
    "reallocate": lambda pk, u: services.reallocate_referral(referral_id=pk, actor=u, reason="other"),
    "recover": lambda pk, u: services.recover_referral(referral_id=pk, actor=u, outcome="other"),
    "exit": lambda pk, u: services.exit_referral(referral_id=pk, actor=u, reason="other"),
    "correct": lambda pk, u: services.correct_referral(
        referral_id=pk, actor=u, reason="typing_error", family_name="Haile-Corrected"
    ),
}
OTHER_PROVIDER: list[int] = []


@pytest.fixture
def world():
    """Users of every role and relationship, and a case in every state and offer situation."""
    provider, other_provider = CareProviderFactory(), CareProviderFactory()
    OTHER_PROVIDER[:] = [other_provider.pk]
    boss = manager()
    referrer = responder()
    users = {
        "manager": boss,
        "referring responder": referrer,
        "other responder": responder(),
        "involved provider": provider_user(provider),
        "other provider": provider_user(other_provider),
        "unaffiliated user": responder(organisation=None),
    }

    def new() -> int:
        return submitted_referral(actor=referrer).pk

    def assessed() -> int:
        pk = new()
        services.assess_referral(referral_id=pk, actor=boss, risk="low", route="outreach")
        return pk

    def offered() -> int:
        pk = assessed()
        services.offer_placement(referral_id=pk, actor=boss, provider_id=provider.pk)
        return pk

    def placed() -> int:
        pk = offered()
        services.accept_offer(referral_id=pk, actor=users["involved provider"])
        return pk

    cases = {"received": new(), "assessed": assessed(), "offered": offered(), "placed": placed()}
    cases["offer rejected"] = offered()
    services.reject_offer(
        referral_id=cases["offer rejected"], actor=users["involved provider"], reason="other"
    )
    cases["missing"] = placed()
    services.report_missing(referral_id=cases["missing"], actor=boss, last_seen_at=timezone.now())
    cases["reallocated"] = placed()
    services.reallocate_referral(referral_id=cases["reallocated"], actor=boss, reason="other")
    cases["recovered"] = placed()
    services.recover_referral(referral_id=cases["recovered"], actor=boss, outcome="other")
    cases["exited"] = placed()
    services.exit_referral(referral_id=cases["exited"], actor=boss, reason="other")
    cases["declined"] = new()
    services.decline_referral(referral_id=cases["declined"], actor=boss, reason="other")
    cases["withdrawn"] = new()
    services.withdraw_referral(referral_id=cases["withdrawn"], actor=referrer, reason="other")
    return users, cases


def outcome_of(transition: str, pk: int, user) -> str:
    try:
        with transaction.atomic():
            CALLS[transition](pk, user)
            raise Rollback
    except Rollback:
        return "done"
    except Referral.DoesNotExist:
        return "404"
    except NotPermitted:
        return "403"
    except HarbourError as error:
        return str(error.status_code)


def test_the_predicates_and_the_visibility_selector_agree_for_every_role_and_state(world):
    users, cases = world
    for role, user in users.items():
        visible = set(referrals_visible_to(user).values_list("pk", flat=True))
        for state, pk in cases.items():
            referral = Referral.objects.get(pk=pk)
            pending_to_user = referral.offers.filter(state="pending", provider=user.provider).exists()
            for transition in TRANSITIONS:
                allowed = may_perform(user, transition, referral)
                if transition in ("accept", "reject"):
                    allowed = allowed and pending_to_user
                if allowed:
                    assert pk in visible, f"{role} may {transition} a {state} case they cannot see"
            outcomes = {t: outcome_of(t, pk, user) for t in TRANSITIONS}
            if pk not in visible:
                # An answer to an offer to the user's provider that ended unaccepted (here the rejected one;
                # the reallocated case's was accepted) is told so (409), by the case's reference alone;
                # everything else out of sight is the 404 of no such case.
                ended = (role, state) == ("involved provider", "offer rejected")
                answers = {t: "409" if ended and t in ("accept", "reject") else "404" for t in TRANSITIONS}
                assert outcomes == answers, (role, state, outcomes)
                continue
            # The provider a case closed from may no longer act on it, but its part ended with the case:
            # it is told the case closed (409), as a manager is, not that its role may not (403).
            closed_from = was_placed_provider_at_close(user, referral)
            for transition, outcome in outcomes.items():
                if not may_perform(user, transition, referral):
                    ended_with_the_case = (
                        closed_from and transition in PLACED_PROVIDER_ONLY | PLACED_PROVIDER_OR_MANAGER
                    )
                    assert outcome == ("409" if ended_with_the_case else "403"), (
                        role,
                        state,
                        transition,
                        outcome,
                    )
                else:
                    assert outcome in ("done", "409", "400"), (role, state, transition, outcome)


def test_visibility_follows_the_roles_of_spec_section_2(world):
    users, cases = world
    everything = set(cases.values())
    assert set(referrals_visible_to(users["manager"]).values_list("pk", flat=True)) == everything
    assert set(referrals_visible_to(users["referring responder"]).values_list("pk", flat=True)) == everything
    assert not referrals_visible_to(users["other responder"]).exists()
    assert not referrals_visible_to(users["other provider"]).exists()
    assert not referrals_visible_to(users["unaffiliated user"]).exists()
    involved = {
        name
        for name, pk in cases.items()
        if pk in set(referrals_visible_to(users["involved provider"]).values_list("pk", flat=True))
    }
    # A reallocated case has left the provider: it no longer reads it.
    assert involved == {"offered", "placed", "missing", "recovered", "exited"}


def test_a_case_outside_scope_is_404_on_the_web_and_the_api_like_a_missing_id(world):
    users, cases = world
    for role, user in users.items():
        visible = set(referrals_visible_to(user).values_list("pk", flat=True))
        web, api = Client(), APIClient()
        web.force_login(user)
        api.force_authenticate(user)
        for state, pk in cases.items():
            if pk in visible:
                continue
            page = web.get(f"/cases/{pk}/")
            if user.provider is not None and user.provider.offers.filter(referral_id=pk).exists():
                # An offer to this provider has ended: the web says why on its offers page.
                assert page.status_code == 302 and page.url == "/provider/offers/", (role, state)
            else:
                assert page.status_code == 404, (role, state)
            assert api.get(f"/api/v1/referrals/{pk}/").status_code == 404, (role, state)
            assert api.get(f"/api/v1/referrals/{pk}/history/").status_code == 404, (role, state)
            assert (
                api.post(f"/api/v1/referrals/{pk}/withdraw/", {"reason": "other"}, format="json").status_code
                == 404
            )
            # An answer is told its offer ended only where one to the user's provider did.
            ended = (role, state) == ("involved provider", "offer rejected")
            assert api.post(f"/api/v1/referrals/{pk}/accept/").status_code == (409 if ended else 404), (
                role,
                state,
            )
        assert api.get("/api/v1/referrals/99999999/").status_code == 404
        assert web.get("/cases/99999999/").status_code == 404
