"""Who may open which page: every role × page × in scope / out of scope. Out of scope is a 404, the
same as for a case that does not exist."""

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from referrals.models import Referral
from tests.factories import CareProviderFactory, manager, provider_user, responder, submitted_referral
from tests.web.conftest import offered, signed_in

pytestmark = pytest.mark.django_db


def _responder_of(referral: Referral) -> User:
    return responder(organisation=referral.organisation)


def _offered_provider(referral: Referral) -> User:
    return provider_user(referral.offers.get().provider)


ROLES_IN_SCOPE = {
    "referring responder": _responder_of,
    "manager": lambda referral: manager(),
    "offered provider": _offered_provider,
}
ROLES_OUT_OF_SCOPE = {
    "responder of another organisation": lambda referral: responder(),
    "provider not offered": lambda referral: provider_user(CareProviderFactory()),
}
CASE_PAGES = {
    "case page": lambda pk: reverse("referrals:case", args=[pk]),
}
CASE_ACTIONS = {
    "withdraw": ("withdraw", {"withdraw-reason": "duplicate"}),
    "accept": ("accept", {}),
    "report missing": ("report_missing", {"report_missing-last_seen_at": "2026-01-01T10:00"}),
    "correct details": ("correct", {"correct-given_name": "Amena", "correct-reason": "typing_error"}),
    "change assessment": ("reassess", {"reassess-risk": "high", "reassess-route": "outreach"}),
    "withdraw the offer": ("revoke_offer", {"revoke_offer-reason": "no_answer"}),
}


@pytest.fixture
def case():
    referral, _provider, _boss = offered()
    return referral


@pytest.mark.parametrize("page", CASE_PAGES)
@pytest.mark.parametrize("role", ROLES_IN_SCOPE)
def test_in_scope_roles_open_the_case_page(case, role, page):
    user = ROLES_IN_SCOPE[role](case)
    response = signed_in(user).get(CASE_PAGES[page](case.pk))
    assert response.status_code == 200
    assert case.reference in response.content.decode()


@pytest.mark.parametrize("page", CASE_PAGES)
@pytest.mark.parametrize("role", [*ROLES_IN_SCOPE, *ROLES_OUT_OF_SCOPE])
def test_a_missing_case_is_a_404_for_everyone(case, role, page):
    user = {**ROLES_IN_SCOPE, **ROLES_OUT_OF_SCOPE}[role](case)
    assert signed_in(user).get(CASE_PAGES[page](case.pk + 1000)).status_code == 404


@pytest.mark.parametrize("page", CASE_PAGES)
@pytest.mark.parametrize("role", ROLES_OUT_OF_SCOPE)
def test_out_of_scope_roles_get_the_same_404(case, role, page):
    user = ROLES_OUT_OF_SCOPE[role](case)
    response = signed_in(user).get(CASE_PAGES[page](case.pk))
    assert response.status_code == 404
    assert case.reference not in response.content.decode()


@pytest.mark.parametrize("action", CASE_ACTIONS)
@pytest.mark.parametrize("role", ROLES_OUT_OF_SCOPE)
def test_out_of_scope_roles_cannot_open_an_action_or_act_and_get_a_404(case, role, action):
    name, data = CASE_ACTIONS[action]
    client = signed_in(ROLES_OUT_OF_SCOPE[role](case))
    url = reverse("referrals:case_action", args=[case.pk, name])
    assert client.get(url, follow=True).status_code == 404
    response = client.post(url, data)
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.transitions.count() == 3  # submit, assess, offer


def test_the_offered_provider_sees_the_case_but_may_not_correct_it(case):
    client = signed_in(_offered_provider(case))
    url = reverse("referrals:case_action", args=[case.pk, "correct"])
    response = client.post(url, {"correct-given_name": "Amena", "correct-reason": "typing_error"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.given_name == "Amina" and case.transitions.count() == 3


@pytest.mark.parametrize("role", ["referring responder", "offered provider"])
def test_roles_that_see_the_case_but_are_not_managers_may_not_change_its_assessment(case, role):
    client = signed_in(ROLES_IN_SCOPE[role](case))
    url = reverse("referrals:case_action", args=[case.pk, "reassess"])
    response = client.post(url, {"reassess-risk": "high", "reassess-route": "outreach"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.route == "accommodation" and case.transitions.count() == 3


LIST_PAGES = {
    "case list": reverse("referrals:case_list"),
    "triage queue": reverse("referrals:triage"),
    "assessed queue": reverse("referrals:assessed"),
    "provider offers": reverse("care_providers:offers"),
    "provider caseload": reverse("care_providers:caseload"),
}
LISTED = {
    # page: roles that see the case listed there (the case is assessed with a pending offer)
    "case list": {"referring responder", "manager"},
    "assessed queue": {"manager"},
    "provider offers": {"offered provider"},
}
ALLOWED = {
    "case list": {"referring responder", "manager", "responder of another organisation"},
    "triage queue": {"manager"},
    "assessed queue": {"manager"},
    "provider offers": {"offered provider", "provider not offered"},
    "provider caseload": {"offered provider", "provider not offered"},
}


@pytest.mark.parametrize("page", LIST_PAGES)
@pytest.mark.parametrize("role", [*ROLES_IN_SCOPE, *ROLES_OUT_OF_SCOPE])
def test_list_pages_list_only_cases_in_scope(case, role, page):
    user = {**ROLES_IN_SCOPE, **ROLES_OUT_OF_SCOPE}[role](case)
    response = signed_in(user).get(LIST_PAGES[page])
    if role not in ALLOWED[page]:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    listed = case.reference in response.content.decode()
    assert listed == (role in LISTED.get(page, set()))


def test_opening_a_case_page_is_recorded_in_the_audit_trail(case):
    boss = manager()
    signed_in(boss).get(reverse("referrals:case", args=[case.pk]))
    assert AuditEvent.objects.filter(
        actor=boss, referral=case, action=AuditAction.READ, what="case page"
    ).exists()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    referral = submitted_referral()
    for url in (
        reverse("referrals:case", args=[referral.pk]),
        reverse("referrals:case_list"),
        reverse("home"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_not_found_page_is_a_full_page_that_does_not_reveal_the_case(case):
    response = signed_in(responder()).get(reverse("referrals:case", args=[case.pk]))
    html = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="en-GB">' in html and "Page not found" in html
