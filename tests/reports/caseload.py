"""A known caseload, built by hand with fixed timestamps, whose every figure the tests can state.

NOW is 15 June 2026, 12:00 London time. Eight referrals (A to H), two providers (X and Y), their offers,
placements and clocks, and three anonymous notifications. The expected figures are worked out in the
comments beside each case and in tests/reports/test_selectors.py.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import Any

from accounts.models import OrganisationKind, User
from care_providers.models import CareProvider, OfferState, Placement, PlacementOffer
from referrals.encryption import name_digest
from referrals.models import AnonymousNotification, Clock, Deadline, Referral
from tests.factories import CareProviderFactory, OrganisationFactory, aware, manager, responder

NOW = aware(2026, 6, 15, 12, 0)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
_numbers = itertools.count(1)


def make_referral(*, submitted_by: User, submitted_at: datetime.datetime, **fields: Any) -> Referral:
    """A referral row with the given workflow fields, written directly (the state is set on creation)."""
    number = next(_numbers)
    values: dict[str, Any] = {
        "reference": f"HBR-TEST-{number:06d}",
        "organisation_id": submitted_by.organisation_id,
        "submitted_by": submitted_by,
        "submitted_at": submitted_at,
        "state_changed_at": submitted_at,
        "consent": True,
        "given_name": "Secretname",
        "family_name": f"Hiddenfamily{number}",
        "date_of_birth": datetime.date(1990, 1, 1),
        "gender": "female",
        "nationality": "NG",
        "languages": ["en"],
        "exploitation_types": ["labour"],
        "exploitation_location": "uk",
        "region": "london",
        "contact_phone": "07700 900999",
        "account": "Confidential account of exploitation.",
        "name_digest": name_digest("Secretname", f"Hiddenfamily{number}"),
    }
    values.update(fields)
    values.setdefault("first_placed_at", values.get("placed_at"))  # never reallocated, unless given
    return Referral.objects.create(**values)


def clock(referral: Referral, kind: Clock, *, started: datetime.datetime, due: datetime.datetime,
          stopped: datetime.datetime | None = None) -> Deadline:  # fmt: skip
    return Deadline.objects.create(
        referral=referral, clock=kind, started_at=started, due_at=due, stopped_at=stopped
    )


def offer(referral: Referral, provider: CareProvider, state: str, *, offered: datetime.datetime,
          responded: datetime.datetime | None = None, by: User) -> PlacementOffer:  # fmt: skip
    return PlacementOffer.objects.create(
        referral=referral,
        provider=provider,
        state=state,
        offered_by=by,
        offered_at=offered,
        response_due_at=offered + 4 * HOUR,
        responded_at=responded,
    )


def anonymous_notification(
    *, by: User, at: datetime.datetime, region: str = "london", nationality: str = "NG"
) -> AnonymousNotification:
    return AnonymousNotification.objects.create(
        organisation_id=by.organisation_id,
        submitted_by=by,
        submitted_at=at,
        gender="female",
        nationality=nationality,
        exploitation_types=["labour"],
        region=region,
    )


@dataclass
class Caseload:
    police: User
    ngo: User
    boss: User
    x: CareProvider
    y: CareProvider
    cases: dict[str, Referral]


def build_caseload() -> Caseload:
    police = responder(organisation=OrganisationFactory(kind=OrganisationKind.POLICE))
    ngo = responder(organisation=OrganisationFactory(kind=OrganisationKind.NGO))
    boss = manager()
    x = CareProviderFactory(
        organisation=OrganisationFactory(name="Provider X", kind=OrganisationKind.CARE_PROVIDER),
        name="Provider X",
        beds_women=2,
        beds_men=1,
        beds_family=1,
    )
    y = CareProviderFactory(
        organisation=OrganisationFactory(name="Provider Y", kind=OrganisationKind.CARE_PROVIDER),
        name="Provider Y",
        services=["outreach"],
        beds_women=0,
        beds_men=0,
        beds_family=0,
    )
    cases: dict[str, Referral] = {}

    # A: received a day ago (band: under 7 days); its assessment clock is open and not yet due.
    at = aware(2026, 6, 14, 12, 0)
    cases["A"] = make_referral(
        submitted_by=police, submitted_at=at, nationality="NG", exploitation_types=["sexual"]
    )
    clock(cases["A"], Clock.ASSESSMENT, started=at, due=aware(2026, 6, 19, 12, 0))

    # B: received 1 May (45 days: band 30 to 89 days), a child; assessment overdue since 8 May.
    at = aware(2026, 5, 1, 9, 0)
    cases["B"] = make_referral(
        submitted_by=police,
        submitted_at=at,
        gender="male",
        is_child=True,
        exploitation_types=["labour", "criminal"],
    )
    clock(cases["B"], Clock.ASSESSMENT, started=at, due=aware(2026, 5, 8, 9, 0))

    # C: assessed 10 hours after submission (over 90 days ago); placement clock overdue since 6 March;
    # X rejected one offer and holds a pending one.
    at = aware(2026, 3, 1, 8, 0)
    assessed = at + 10 * HOUR
    cases["C"] = make_referral(
        submitted_by=ngo, submitted_at=at, state="assessed", state_changed_at=assessed, assessed_at=assessed,
        nationality="VN", region="north_west", gender="male", route="accommodation",
    )  # fmt: skip
    clock(cases["C"], Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=assessed)
    clock(cases["C"], Clock.PLACEMENT, started=assessed, due=aware(2026, 3, 6, 18, 0))
    offer(cases["C"], x, OfferState.REJECTED, offered=assessed + HOUR, responded=assessed + 2 * HOUR, by=boss)
    offer(cases["C"], x, OfferState.PENDING, offered=assessed + 3 * HOUR, by=boss)

    # D: a child, an emergency, assessed after 20 hours, placed with X 5 hours later in a women's bed
    # (accepted in 4 hours); the check-in clock is overdue since 1 June.
    at = aware(2026, 2, 1, 8, 0)
    assessed, placed = at + 20 * HOUR, at + 25 * HOUR
    cases["D"] = make_referral(
        submitted_by=police, submitted_at=at, state="placed", state_changed_at=placed, assessed_at=assessed,
        placed_at=placed, is_child=True, exploitation_types=["sexual"], route="accommodation", emergency=True,
    )  # fmt: skip
    clock(cases["D"], Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=assessed)
    clock(cases["D"], Clock.PLACEMENT, started=assessed, due=assessed + DAY, stopped=placed)
    clock(cases["D"], Clock.CHECK_IN, started=aware(2026, 5, 25, 12, 0), due=aware(2026, 6, 1, 12, 0))
    accepted = offer(cases["D"], x, OfferState.ACCEPTED, offered=assessed + HOUR, responded=placed, by=boss)
    Placement.objects.create(
        referral=cases["D"], provider=x, offer=accepted, bed_kind="women", started_at=placed
    )

    # E: recovered; assessed after 30 hours, placed with X 15 hours later (accepted in 12 hours); bed freed.
    at = aware(2026, 1, 15, 8, 0)
    assessed, placed = at + 30 * HOUR, at + 45 * HOUR
    cases["E"] = make_referral(
        submitted_by=ngo, submitted_at=at, state="recovered", state_changed_at=aware(2026, 4, 1, 8, 0),
        assessed_at=assessed, placed_at=placed, closed_at=aware(2026, 4, 1, 8, 0), nationality="VN",
        exploitation_types=["sexual", "labour"], route="accommodation",
    )  # fmt: skip
    clock(cases["E"], Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=assessed)
    clock(cases["E"], Clock.PLACEMENT, started=assessed, due=assessed + 5 * DAY, stopped=placed)
    accepted = offer(
        cases["E"], x, OfferState.ACCEPTED, offered=placed - 12 * HOUR, responded=placed, by=boss
    )
    Placement.objects.create(
        referral=cases["E"], provider=x, offer=accepted, bed_kind="women", started_at=placed,
        ended_at=aware(2026, 4, 1, 8, 0),
    )  # fmt: skip

    # F: declined a day after its assessment clock was due.
    at = aware(2026, 4, 1, 8, 0)
    cases["F"] = make_referral(
        submitted_by=police, submitted_at=at, state="declined", state_changed_at=aware(2026, 4, 9, 8, 0),
        closed_at=aware(2026, 4, 9, 8, 0), nationality="RO", region="wales", gender="other",
        exploitation_types=["other"],
    )  # fmt: skip
    clock(
        cases["F"], Clock.ASSESSMENT, started=at, due=aware(2026, 4, 8, 8, 0), stopped=aware(2026, 4, 9, 8, 0)
    )

    # G: assessed after 40 hours, then withdrawn; its offer to Y was revoked (not an answer).
    at = aware(2026, 4, 10, 8, 0)
    assessed = at + 40 * HOUR
    cases["G"] = make_referral(
        submitted_by=police, submitted_at=at, state="withdrawn", state_changed_at=aware(2026, 4, 20, 8, 0),
        assessed_at=assessed, closed_at=aware(2026, 4, 20, 8, 0), nationality="RO", region="wales",
        exploitation_types=["domestic_servitude"], route="outreach",
    )  # fmt: skip
    clock(cases["G"], Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=assessed)
    offer(cases["G"], y, OfferState.REVOKED, offered=assessed + HOUR, by=boss)

    # H: missing since 10 June (band under 7 days); assessed after 100 hours (late), an emergency placed
    # with Y on outreach 25 hours later (late; accepted in 20 hours); the missing clock is overdue since
    # 11 June.
    at = aware(2025, 12, 1, 10, 0)
    assessed, placed = at + 100 * HOUR, at + 125 * HOUR
    cases["H"] = make_referral(
        submitted_by=ngo, submitted_at=at, state="missing", state_changed_at=aware(2026, 6, 10, 12, 0),
        assessed_at=assessed, placed_at=placed, nationality="CN", region="scotland", gender="male",
        exploitation_types=["criminal"], route="outreach", emergency=True,
    )  # fmt: skip
    clock(cases["H"], Clock.ASSESSMENT, started=at, due=at + 72 * HOUR, stopped=assessed)
    clock(cases["H"], Clock.PLACEMENT, started=assessed, due=assessed + DAY, stopped=placed)
    clock(cases["H"], Clock.MISSING, started=aware(2026, 6, 10, 12, 0), due=aware(2026, 6, 11, 12, 0))
    accepted = offer(
        cases["H"], y, OfferState.ACCEPTED, offered=placed - 20 * HOUR, responded=placed, by=boss
    )
    Placement.objects.create(referral=cases["H"], provider=y, offer=accepted, bed_kind="", started_at=placed)

    # Anonymous notifications: two in April (London, Wales), one in January (London).
    anonymous_notification(by=police, at=aware(2026, 4, 3, 12, 0))
    anonymous_notification(by=police, at=aware(2026, 4, 20, 12, 0), region="wales")
    anonymous_notification(by=ngo, at=aware(2026, 1, 20, 12, 0))
    return Caseload(police=police, ngo=ngo, boss=boss, x=x, y=y, cases=cases)


def more_referrals(count: int, *, by: User, start: datetime.datetime) -> None:
    """Extra received referrals, one a day from ``start``, across nationalities and regions."""
    nationalities = ["AL", "GB", "ER", "SD", "IQ", "PL", "IN"]
    regions = ["london", "east", "wales", "scotland"]
    for n in range(count):
        at = start + n * DAY
        referral = make_referral(
            submitted_by=by, submitted_at=at, nationality=nationalities[n % 7], region=regions[n % 4]
        )
        clock(referral, Clock.ASSESSMENT, started=at, due=at + 5 * DAY)
