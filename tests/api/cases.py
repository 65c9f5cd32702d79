"""Cases brought to each state through the services, as the API tests need them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from accounts.models import User
from care_providers.models import CareProvider
from referrals import services
from referrals.models import Referral
from tests.factories import CareProviderFactory, manager, provider_user, responder, submitted_referral

STATES = (
    "received",
    "assessed",
    "offered",
    "placed",
    "missing",
    "recovered",
    "exited",
    "declined",
    "withdrawn",
)


@dataclass
class Case:
    referral: Referral
    responder: User
    manager: User
    provider: CareProvider
    provider_user: User
    extra: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> Referral:
        self.referral.refresh_from_db()
        return self.referral


def bring_to(
    state: str,
    *,
    referral: Referral | None = None,
    responder_user: User | None = None,
    boss: User | None = None,
    provider: CareProvider | None = None,
    route: str = "accommodation",
    **fields: Any,
) -> Case:
    """A referral in ``state`` ("offered" is assessed with an offer pending to ``provider``)."""
    responder_user = responder_user or responder()
    boss = boss or manager()
    provider = provider or CareProviderFactory()
    referral = referral or submitted_referral(responder_user, **fields)
    case = Case(referral, responder_user, boss, provider, provider_user(provider))
    pk = referral.pk
    if state == "received":
        return case
    if state == "declined":
        services.decline_referral(referral_id=pk, actor=boss, reason="not_eligible")
        return case
    if state == "withdrawn":
        services.withdraw_referral(referral_id=pk, actor=responder_user, reason="duplicate")
        return case
    services.assess_referral(referral_id=pk, actor=boss, risk="medium", route=route)
    if state == "assessed":
        return case
    services.offer_placement(referral_id=pk, actor=boss, provider_id=provider.pk)
    if state == "offered":
        return case
    services.accept_offer(referral_id=pk, actor=case.provider_user)
    if state == "placed":
        return case
    if state == "missing":
        services.report_missing(referral_id=pk, actor=case.provider_user, last_seen_at=timezone.now())
    elif state == "recovered":
        services.recover_referral(referral_id=pk, actor=case.provider_user, outcome="independent_living")
    elif state == "exited":
        services.exit_referral(referral_id=pk, actor=case.provider_user, reason="left_support")
    else:
        raise ValueError(state)
    return case


def valid_body(transition: str, *, provider_id: int | None = None) -> dict[str, Any]:
    """A body each transition accepts."""
    return {
        "assess": {"risk": "high", "route": "accommodation", "notes": "Needs a safe house today."},
        "decline": {"reason": "not_eligible", "note": "No indicators."},
        "withdraw": {"reason": "consent_withdrawn", "note": ""},
        "offer": {"provider": provider_id},
        # ``bring_to`` assesses on the accommodation route: the person now wants outreach only.
        "reassess": {"risk": "high", "route": "outreach", "notes": "Now staying with her sister."},
        "accept": {},
        "reject": {"reason": "no_capacity", "note": "Full this week."},
        "revoke_offer": {"reason": "no_answer", "note": "No answer on their duty phone."},
        "record_progress": {
            "note": "Settled in; <b>likes</b> the garden.",
            "next_check_in": (timezone.localdate() + datetime.timedelta(days=3)).isoformat(),
        },
        "report_missing": {"last_seen_at": timezone.now().isoformat(), "note": "Did not return."},
        "found": {"note": "Back at the house."},
        "reallocate": {"reason": "needs_changed", "note": ""},
        "recover": {"outcome": "independent_living", "note": ""},
        "exit": {"reason": "left_support", "note": ""},
        "correct": {
            "reason": "typing_error",
            "note": "Misspelt at intake.",
            "family_name": "Haile-Corrected",
        },
    }[transition]


def transition_url(referral_id: int, transition: str) -> str:
    return f"/api/v1/referrals/{referral_id}/{transition}/"
