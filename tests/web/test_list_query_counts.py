"""Every list page costs the same number of queries for 1 row as for 50: no N+1."""

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from care_providers.models import CareProvider
from referrals import encryption, services
from tests.factories import (
    CareProviderFactory,
    birthday_years_ago,
    manager,
    provider_user,
    responder,
    submitted_referral,
)
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def queries_for(user: User, url: str) -> int:
    client = signed_in(user)
    client.get(url)  # warm the session and any per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def assessed(boss: User, route: str = "accommodation", **fields) -> int:
    referral = submitted_referral(**fields)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route=route)
    return referral.pk


class Caseload:
    """Builds rows of one list page, one case at a time, for the user who reads the page."""

    def __init__(self, page: str) -> None:
        self.page = page
        self.boss = manager()
        self.provider = CareProviderFactory(beds_women=60)
        self.provider_staff = provider_user(self.provider)
        self.responder = responder()
        self.rows = 0

    def reader(self) -> User:
        return {
            "case list (responder)": self.responder,
            "case list (manager)": self.boss,
            "triage queue": self.boss,
            "assessed queue": self.boss,
            "provider offers": self.provider_staff,
            "provider caseload": self.provider_staff,
            "provider past placements": self.provider_staff,
        }[self.page]

    def url(self) -> str:
        return {
            "case list (responder)": reverse("referrals:case_list"),
            "case list (manager)": reverse("referrals:case_list"),
            "triage queue": reverse("referrals:triage"),
            "assessed queue": reverse("referrals:assessed"),
            "provider offers": reverse("care_providers:offers"),
            "provider caseload": reverse("care_providers:caseload"),
            "provider past placements": reverse("care_providers:past"),
        }[self.page]

    def add_row(self) -> None:
        add: dict[str, Callable[[], None]] = {
            "case list (responder)": lambda: submitted_referral(
                actor=self.responder, **self._child_now_and_then()
            ),
            "case list (manager)": lambda: submitted_referral(**self._child_now_and_then()),
            "triage queue": lambda: submitted_referral(**self._child_now_and_then()),
            "assessed queue": self._waiting_for_placement,
            "provider offers": self._offered_of_every_kind,
            "provider caseload": self._placed,
            "provider past placements": self._past,
        }
        add[self.page]()
        self.rows += 1

    def _waiting_for_placement(self) -> None:
        """Every kind of latest offer the queue tells in words (none, pending, rejected, expired), on
        emergencies and children too, and people reallocated while missing."""
        kind = self.rows % 4
        pk = assessed(self.boss, emergency=self.rows % 3 == 0, **self._child_now_and_then())
        if kind == 0:
            return
        offer = services.offer_placement(referral_id=pk, actor=self.boss, provider_id=self.provider.pk)
        if self.rows % 6 == 5:
            services.accept_offer(referral_id=pk, actor=self.provider_staff)
            services.report_missing(referral_id=pk, actor=self.provider_staff, last_seen_at=timezone.now())
            services.reallocate_referral(referral_id=pk, actor=self.boss, reason="safety_concern")
            return
        if kind == 2:
            services.reject_offer(referral_id=pk, actor=self.provider_staff, reason="no_capacity")
        elif kind == 3:
            services.expire_offer(offer_id=offer.pk)

    # The people the offers page describes: by age, gender and the bed they need, or none.
    PEOPLE = (
        {"gender": "male"},
        {"gender": "female", "has_dependants": True},
        {"gender": "other", "date_of_birth": None, "age_estimate": 30},
        {"gender": "unknown", "date_of_birth": None, "age_in_doubt": True, "emergency": True},
    )

    def _offered_of_every_kind(self) -> None:
        """An offer of one of every kind of person in turn, on both routes; the provider's one bed for men
        is taken once each is offered, so the men's rows carry that flag. (With no bed for men at all, it
        could not accept them, which the rows would say instead.)"""
        if not self.rows:
            man = assessed(self.boss, gender="male")
            services.offer_placement(referral_id=man, actor=self.boss, provider_id=self.provider.pk)
            services.accept_offer(referral_id=man, actor=self.provider_staff)
        CareProvider.objects.filter(pk=self.provider.pk).update(beds_men=2)
        route = "outreach" if self.rows % 5 == 4 else "accommodation"
        pk = assessed(self.boss, route=route, **self.PEOPLE[self.rows % len(self.PEOPLE)])
        # A note for the provider now and then, shown on the list, read with the offer's other columns.
        note = "Keep away from her old address." if self.rows % 3 == 0 else ""
        services.offer_placement(referral_id=pk, actor=self.boss, provider_id=self.provider.pk, note=note)
        CareProvider.objects.filter(pk=self.provider.pk).update(beds_men=1)

    def _child_now_and_then(self) -> dict[str, Any]:
        """Every fifth person may be under 18, and every seventh is a child who turns 18 soon: each list
        flags the children, and the caseload and the managers' queues those turning 18."""
        fields: dict[str, Any] = {"age_in_doubt": self.rows % 5 == 0}
        if self.rows % 7 == 3:
            fields["date_of_birth"] = birthday_years_ago(18, days_from_today=10)
        return fields

    def _offered(self) -> int:
        pk = assessed(self.boss, **self._child_now_and_then())
        services.offer_placement(referral_id=pk, actor=self.boss, provider_id=self.provider.pk)
        return pk

    def _placed(self) -> int:
        pk = self._offered()
        services.accept_offer(referral_id=pk, actor=self.provider_staff)
        return pk

    def _past(self) -> None:
        pk = self._placed()
        services.recover_referral(referral_id=pk, actor=self.provider_staff, outcome="independent_living")


PAGES = [
    "case list (responder)",
    "case list (manager)",
    "triage queue",
    "assessed queue",
    "provider offers",
    "provider caseload",
    "provider past placements",
]


@pytest.mark.parametrize("page", PAGES)
def test_a_list_page_costs_the_same_queries_for_one_row_as_for_fifty(page):
    caseload = Caseload(page)
    caseload.add_row()
    one = queries_for(caseload.reader(), caseload.url())
    for _ in range(49):
        caseload.add_row()
    html = signed_in(caseload.reader()).get(caseload.url()).content.decode()
    assert html.count("/cases/") >= 50
    assert '<span class="tag">Child</span>' in html
    if page in ("triage queue", "assessed queue", "provider caseload"):
        assert "Turns 18 soon</span>" in html
    if page == "provider offers":
        assert "No free bed for men" in html and "None (outreach)" in html and "About 30" in html
        assert "Keep away from her old address." in html
    if page == "provider caseload":
        assert html.count('data-label="Recovery review due"') >= 50
    if page == "assessed queue":  # every kind of latest offer, read from the one prefetch
        assert all(words in html for words in ("None yet", "Pending with", "Rejected by", "Expired ("))
        assert "Missing</span> since" in html
    assert queries_for(caseload.reader(), caseload.url()) == one


@pytest.mark.parametrize("page", ["case list (responder)", "case list (manager)", "provider past placements"])
def test_a_list_page_decrypts_none_of_the_personal_fields_it_does_not_show(page):
    caseload = Caseload(page)
    caseload.add_row()
    client = signed_in(caseload.reader())
    with mock.patch("referrals.encryption.decrypt", wraps=encryption.decrypt) as decrypt:
        html = client.get(caseload.url()).content.decode()
    assert html.count("/cases/") >= 1
    assert decrypt.call_count == 0


def test_the_audit_trail_decrypts_none_of_the_personal_fields_of_the_cases_it_lists():
    boss = manager()
    referral = submitted_referral()
    client = signed_in(boss)
    client.get(reverse("referrals:case", args=[referral.pk]))  # a read of the case, in the trail
    with mock.patch("referrals.encryption.decrypt", wraps=encryption.decrypt) as decrypt:
        html = client.get(reverse("audit-log")).content.decode()
    assert f">{referral.reference}</a>" in html
    assert decrypt.call_count == 0
