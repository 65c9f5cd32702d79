"""``manage.py seed_demo``: the fixed demo cast and consistent, realistic case histories (SPEC §9)."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, Role, User
from care_providers.models import CareProvider, OfferState, Placement, PlacementOffer
from care_providers.selectors import occupied_beds
from care_providers.services import bed_kind_for
from referrals.choices import (
    OPEN_STATES,
    BedKind,
    CorrectionReason,
    Region,
    RevokeOfferReason,
    Route,
    Service,
)
from referrals.choices import ReferralState as S
from referrals.demo import ACCOUNTS, FIRST_RESPONDERS, LOCAL_AUTHORITIES, PROVIDERS
from referrals.models import AnonymousNotification, Clock, Deadline, Referral, TransitionLog
from referrals.services import age_on, is_child
from referrals.validation import CORRECTABLE_FIELDS, corrected_values, referral_errors
from reports.selectors import WENT_MISSING, ReportFilter, caseload_report

pytestmark = pytest.mark.django_db

PASSWORD = "a-demo-password-for-tests"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # seed_demo sets the demo users' passwords; production-strength hashing would dominate these tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(referrals: int = 0, **options: object) -> None:
    call_command("seed_demo", password=PASSWORD, referrals=referrals, seed=7, stdout=None, **options)


def age_assessed() -> set[int]:
    """The cases an age assessment corrected (the logs' input is encrypted: read in Python)."""
    corrections = TransitionLog.objects.filter(transition="correct")
    return {log.referral_id for log in corrections if log.input["reason"] == CorrectionReason.AGE_ASSESSMENT}


def test_the_five_demo_users_have_their_roles_organisations_and_password() -> None:
    seed()
    users = {
        user.username: user
        for user in User.objects.filter(
            username__in=["responder", "responder2", "manager", "provider", "provider2"]
        ).select_related("organisation")
    }
    assert {name: user.role for name, user in users.items()} == {
        "responder": Role.FIRST_RESPONDER,
        "responder2": Role.FIRST_RESPONDER,
        "manager": Role.MANAGER,
        "provider": Role.CARE_PROVIDER,
        "provider2": Role.CARE_PROVIDER,
    }
    assert users["responder"].organisation != users["responder2"].organisation
    assert users["provider"].organisation != users["provider2"].organisation
    assert users["manager"].organisation.kind == OrganisationKind.CONTRACTOR
    assert users["responder"].organisation.kind in {OrganisationKind.POLICE, OrganisationKind.BORDER_FORCE}
    assert all(user.check_password(PASSWORD) for user in users.values())


def test_demo_providers_serve_everywhere_with_every_service_children_and_free_beds() -> None:
    seed(referrals=150)
    for username in ("provider", "provider2"):
        provider = User.objects.get(username=username).provider
        assert provider is not None
        assert set(provider.regions) == set(Region.values)
        assert set(provider.services) == {Service.ACCOMMODATION, Service.OUTREACH}
        assert provider.supports_children
        for kind in BedKind.values:
            assert occupied_beds(provider, kind) < provider.capacity(kind), (username, kind)


def test_every_demo_provider_has_a_duty_phone_of_its_own_in_ofcoms_range_for_drama(settings) -> None:
    seed()
    phones = list(CareProvider.objects.values_list("organisation__duty_phone", flat=True))
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"020 7946 0[0-9]{3}", phone) for phone in phones), phones
    assert settings.MANAGERS_DUTY_PHONE not in phones
    for organisation in Organisation.objects.filter(care_provider__isnull=False):
        organisation.full_clean()  # one number to dial, as the admin requires


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("harbour-demo-2026", "the default is published"),
        (None, "the default is published"),  # the README's command, without --password
        ("harbour", "--password must be strong"),
    ],
)
def test_with_debug_off_demo_users_are_not_given_a_published_or_weak_password(
    settings, monkeypatch, password: str | None, says: str
) -> None:
    """The demo manager sees every case, and whoever knows its password enrols their own second factor."""
    settings.DEBUG = False
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    options = {} if password is None else {"password": password}
    with pytest.raises(CommandError, match=says):
        call_command("seed_demo", referrals=0, stdout=None, **options)
    assert not User.objects.exists()


def test_with_debug_on_the_demo_users_get_the_published_password(settings, monkeypatch) -> None:
    """make run (DEBUG on) seeds with the password the README gives."""
    settings.DEBUG = True
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    call_command("seed_demo", referrals=0, stdout=None)
    assert User.objects.get(username="manager").check_password("harbour-demo-2026")


def test_every_organisation_kind_is_present_and_every_organisation_has_a_notification_address() -> None:
    seed()
    kinds = set(Organisation.objects.values_list("kind", flat=True))
    assert kinds == set(OrganisationKind.values)
    assert CareProvider.objects.count() >= 12
    assert not Organisation.objects.filter(notification_emails=[]).exists()


def test_seeding_twice_does_not_duplicate_the_fixed_data() -> None:
    seed()
    counts = (Organisation.objects.count(), User.objects.count(), CareProvider.objects.count())
    seed()
    assert (Organisation.objects.count(), User.objects.count(), CareProvider.objects.count()) == counts


def test_if_empty_generates_referrals_only_the_first_time() -> None:
    seed(referrals=20, if_empty=True)
    seed(referrals=20, if_empty=True)
    assert Referral.objects.count() == 20


def test_generated_referrals_have_consistent_workflow_data() -> None:
    seed(referrals=250)
    referrals = list(Referral.objects.all())
    assert len(referrals) == 250
    assert len({r.reference for r in referrals}) == 250
    states = Counter(r.state for r in referrals)
    # Open and closed cases, several outcomes.
    assert {S.RECEIVED, S.PLACED, S.RECOVERED, S.DECLINED} <= set(states)

    active = Placement.objects.filter(ended_at__isnull=True)
    placed_ids = {r.pk for r in referrals if r.state in (S.PLACED, S.MISSING)}
    assert set(active.values_list("referral_id", flat=True)) == placed_ids
    for r in referrals:
        if r.state == S.RECEIVED:
            assert r.assessed_at is None and r.closed_at is None
        if r.state in (S.ASSESSED, S.PLACED, S.MISSING, S.RECOVERED, S.EXITED):
            assert r.assessed_at is not None and r.risk and r.route
            assert r.submitted_at <= r.assessed_at
        if r.state in (S.PLACED, S.MISSING, S.RECOVERED, S.EXITED):
            assert r.placed_at is not None and r.assessed_at <= r.placed_at
        assert (r.closed_at is not None) == (r.state not in OPEN_STATES)

    # An emergency is a need for accommodation today, as the intake rules require.
    assert any(r.emergency for r in referrals)
    assert all(r.needs_accommodation for r in referrals if r.emergency)

    # Each referral's log starts with submit and ends in its current state.
    last = {}
    first = {}
    for log in TransitionLog.objects.order_by("at", "id"):
        first.setdefault(log.referral_id, log)
        last[log.referral_id] = log
    assert all(first[r.pk].transition == "submit" for r in referrals)
    assert all(last[r.pk].to_state == r.state for r in referrals)

    # Every accepted offer has a placement; a referral has at most one pending offer.
    assert not PlacementOffer.objects.filter(state=OfferState.ACCEPTED, placement__isnull=True).exists()
    pending = Counter(
        PlacementOffer.objects.filter(state=OfferState.PENDING).values_list("referral_id", flat=True)
    )
    assert all(n == 1 for n in pending.values())

    # Open cases have their open clock; closed cases none.
    open_clocks = Deadline.objects.filter(stopped_at__isnull=True)
    for r in referrals:
        clocks = {d.clock for d in open_clocks if d.referral_id == r.pk}
        if r.state == S.RECEIVED:
            assert Clock.ASSESSMENT in clocks
        elif r.state == S.ASSESSED:
            assert Clock.PLACEMENT in clocks
        elif r.state == S.PLACED:
            assert Clock.CHECK_IN in clocks
            # The recovery review is open until the provider records it, about day 30.
            notes = r.transitions.filter(transition="record_progress")
            reviewed = any(note.input.get("recovery_review") for note in notes)
            assert (Clock.RECOVERY_REVIEW in clocks) != reviewed
        elif r.state == S.MISSING:
            # Their recovery review waits for them, paused, with the time it had left.
            assert clocks == {Clock.MISSING}
            assert r.deadlines.get(clock=Clock.RECOVERY_REVIEW).paused
        else:
            assert clocks == set()


def test_the_reports_went_missing_counts_every_generated_case_ever_reported_missing() -> None:
    seed(referrals=250)
    reported = set(
        TransitionLog.objects.filter(transition="report_missing").values_list("referral", flat=True)
    )
    clocked = set(Deadline.objects.filter(clock=Clock.MISSING).values_list("referral", flat=True))
    assert clocked == reported
    outcomes = {row.key: row.count for row in caseload_report(ReportFilter()).outcomes}
    # Some have left support since: the histories hold more than those missing now.
    assert outcomes[WENT_MISSING] == len(reported) > outcomes[S.MISSING]


def test_active_placements_never_exceed_capacity() -> None:
    seed(referrals=250)
    over = (
        Placement.objects.filter(ended_at__isnull=True)
        .exclude(bed_kind="")
        .values("provider_id", "bed_kind")
        .annotate(n=Count("id"))
    )
    providers = {p.pk: p for p in CareProvider.objects.all()}
    assert over, "some people are in accommodation"
    for row in over:
        assert row["n"] <= providers[row["provider_id"]].capacity(row["bed_kind"])


def test_no_one_generated_is_offered_to_a_provider_with_no_bed_of_the_kind_they_need() -> None:
    seed(referrals=1000)
    # As the cast gives them their beds: a women's refuge has none for men (its capacity is raised at the
    # end only where people were placed, which is what must not happen here).
    beds = {spec.name: dict(zip(BedKind.values, spec.beds, strict=True)) for spec in PROVIDERS}
    offers = PlacementOffer.objects.filter(referral__route=Route.ACCOMMODATION).select_related(
        "provider", "referral"
    )
    kinds = [(offer.provider.name, bed_kind_for(offer.referral)) for offer in offers]
    assert ("Black Country Women's Aid", BedKind.WOMEN) in kinds
    assert [(name, kind) for name, kind in kinds if not beds[name][kind]] == []


def test_personal_fields_are_encrypted_and_read_back() -> None:
    seed(referrals=30)
    referral = Referral.objects.first()
    assert referral.given_name and referral.family_name and referral.account
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT given_name, account FROM referrals_referral WHERE id = %s", [referral.pk])
        stored_name, stored_account = cursor.fetchone()
    assert referral.given_name not in stored_name
    assert referral.account not in stored_account


def test_generated_cases_hold_the_intakes_digests_and_no_date_of_birth_and_estimate_that_disagree() -> None:
    seed(referrals=150)
    referrals = list(Referral.objects.all())
    assert all((r.name_digest, r.birth_date_digest) == r.person_digests() for r in referrals)
    assert not [
        r
        for r in referrals
        if r.date_of_birth is not None
        and r.age_estimate is not None
        and not r.age_in_doubt
        and (age_on(r.date_of_birth, timezone.localdate(r.submitted_at)) < 18) != (r.age_estimate < 18)
    ]


def test_a_generated_child_names_a_local_authority_and_a_contact_at_a_drama_number_and_an_adult_neither():
    seed(referrals=150)
    referrals = list(Referral.objects.all())
    children = [r for r in referrals if r.is_child]
    assert children and len(children) < len(referrals)
    councils = {name for names in LOCAL_AUTHORITIES.values() for name in names} | {
        spec.name for spec in FIRST_RESPONDERS if spec.kind == OrganisationKind.LOCAL_AUTHORITY
    }
    assert {r.local_authority for r in children} <= councils
    contacts = [r.local_authority_contact for r in children if r.local_authority_contact]
    assert contacts and all(re.fullmatch(r"[A-Za-z' ]+, 01632 960\d{3}", contact) for contact in contacts)
    # The authority told of a person referred as a child stays on record once an age assessment finds
    # them an adult.
    assessed = age_assessed()
    assert all(
        (r.local_authority, r.local_authority_contact) == ("", "")
        for r in referrals
        if not r.is_child and r.pk not in assessed
    )


def test_referrals_spread_like_the_national_statistics() -> None:
    seed(referrals=700)
    total = Referral.objects.count()
    male = Referral.objects.filter(gender="male").count() / total
    children = Referral.objects.filter(is_child=True).count() / total
    assert 0.68 < male < 0.84
    assert 0.36 < children < 0.52
    top = [code for code, _ in Counter(Referral.objects.values_list("nationality", flat=True)).most_common(6)]
    assert top[0] == "GB"
    assert {"AL", "VN", "ER"} <= set(top)
    assert len(set(Referral.objects.values_list("region", flat=True))) == len(Region.values)
    types = Counter(t for ts in Referral.objects.values_list("exploitation_types", flat=True) for t in ts)
    assert {"labour", "criminal", "sexual"} == {t for t, _ in types.most_common(3)}
    months = {(d.year, d.month) for d in Referral.objects.values_list("submitted_at", flat=True)}
    assert len(months) >= 12
    anonymous = AnonymousNotification.objects.count()
    assert 0.2 * total < anonymous < 0.4 * total
    # An adult without consent is one referred as a child: an age assessment found them an adult.
    adults_without_consent = Referral.objects.filter(Q(is_child=False) & Q(consent=False))
    assert set(adults_without_consent.values_list("pk", flat=True)) <= age_assessed()


def test_no_generated_child_is_withdrawn_because_consent_was_withdrawn() -> None:
    seed(referrals=700)
    withdrawals = TransitionLog.objects.filter(transition="withdraw").select_related("referral")
    reasons = {(log.referral.is_child, log.input["reason"]) for log in withdrawals}
    assert (False, "consent_withdrawn") in reasons
    assert {reason for child, reason in reasons if child} - {"consent_withdrawn"}
    assert (True, "consent_withdrawn") not in reasons


def test_a_generated_missing_childs_case_is_closed_by_a_manager() -> None:
    seed(referrals=3000)
    exits = TransitionLog.objects.filter(transition="exit", from_state=S.MISSING).select_related(
        "referral", "actor"
    )
    roles = {(log.referral.is_child, log.actor.role) for log in exits}
    assert (True, Role.MANAGER) in roles
    assert (False, Role.CARE_PROVIDER) in roles
    assert (True, Role.CARE_PROVIDER) not in roles


def test_some_generated_offers_are_withdrawn_by_the_managers_before_their_answer_as_revoke_offer_leaves_them():
    seed(referrals=2500)
    withdrawn = list(PlacementOffer.objects.filter(state=OfferState.REVOKED))
    offered = PlacementOffer.objects.values("referral").distinct().count()
    # A small share of the people offered, for the managers' reasons: no answer, an unsuitable provider…
    assert 0 < len(withdrawn) < 0.1 * offered
    reasons = Counter(offer.revoke_reason for offer in withdrawn)
    assert set(reasons) <= set(RevokeOfferReason.values)
    assert {RevokeOfferReason.NO_ANSWER, RevokeOfferReason.PROVIDER_UNSUITABLE} <= set(reasons)
    logs = {
        log.input["offer"]: log
        for log in TransitionLog.objects.filter(transition="revoke_offer").select_related("actor")
    }
    assert set(logs) == {offer.pk for offer in withdrawn}
    clocks = {
        clock.offer_id: clock
        for clock in Deadline.objects.filter(clock=Clock.OFFER_RESPONSE, offer__state=OfferState.REVOKED)
    }
    offers_of: dict[int, list[PlacementOffer]] = {}
    for offer in PlacementOffer.objects.order_by("offered_at"):
        offers_of.setdefault(offer.referral_id, []).append(offer)
    for offer in withdrawn:
        log = logs[offer.pk]
        assert (log.referral_id, log.from_state, log.to_state, log.actor.role) == (
            offer.referral_id,
            S.ASSESSED,
            S.ASSESSED,
            Role.MANAGER,
        )
        assert log.input == {
            "offer": offer.pk,
            "provider": offer.provider_id,
            "reason": offer.revoke_reason,
            "note": "",
        }
        # While it awaited its answer; never answered; its response clock stopped then, not breached.
        assert offer.offered_at < log.at < offer.response_due_at
        assert offer.responded_at is None
        clock = clocks[offer.pk]
        assert (clock.started_at, clock.due_at, clock.stopped_at, clock.breached_at) == (
            offer.offered_at,
            offer.response_due_at,
            log.at,
            None,
        )
        # No other offer while it was pending; the next, if made yet, to another provider.
        assert not [
            other for other in offers_of[offer.referral_id] if offer.offered_at < other.offered_at <= log.at
        ]
        later = [other for other in offers_of[offer.referral_id] if other.offered_at > log.at]
        if later:
            assert later[0].provider_id != offer.provider_id
    # Some were offered again and placed since.
    assert Placement.objects.filter(referral__offers__state=OfferState.REVOKED).exists()


def age_when_referred(referral: Referral) -> int:
    if referral.date_of_birth is None:
        return referral.age_estimate
    return age_on(referral.date_of_birth, timezone.localdate(referral.submitted_at))


def test_generated_children_are_mostly_15_to_17_and_referred_most_by_local_authorities() -> None:
    seed(referrals=700)
    referrals = list(Referral.objects.select_related("organisation"))
    ages = Counter(age_when_referred(r) for r in referrals if r.is_child and not r.age_in_doubt)
    assert min(ages) >= 10 and max(ages) == 17
    assert sum(ages[age] for age in (15, 16, 17)) > 0.6 * ages.total()

    def local_authority_share(children: bool) -> float:
        group = [r for r in referrals if r.is_child == children]
        return sum(r.organisation.kind == OrganisationKind.LOCAL_AUTHORITY for r in group) / len(group)

    assert local_authority_share(children=True) > 3 * local_authority_share(children=False)


def test_a_generated_account_fits_the_persons_age_and_type_of_exploitation() -> None:
    seed(referrals=700)
    assessed = age_assessed()
    for referral in Referral.objects.all():
        # The account was written of the person as referred, before an age assessment said otherwise.
        as_referred = (True, False) if referral.pk in assessed else (referral.is_child,)
        assert any(
            referral.account in ACCOUNTS[child].get(referral.exploitation_types[0], [])
            for child in as_referred
        )
        if True not in as_referred:
            assert "Child" not in referral.account
        if referral.exploitation_types[0] == "sexual":
            assert not any(work in referral.account for work in ("Factory", "farm", "car wash", "nail bar"))


def test_generated_corrections_and_changes_of_assessment_leave_each_case_as_corrected() -> None:
    seed(referrals=2500)
    logs: dict[int, list[TransitionLog]] = {}
    for log in TransitionLog.objects.order_by("at", "id"):
        logs.setdefault(log.referral_id, []).append(log)
    corrections = [log for history in logs.values() for log in history if log.transition == "correct"]
    reasons = Counter(log.input["reason"] for log in corrections)
    assert {
        CorrectionReason.AGE_ASSESSMENT,
        CorrectionReason.TYPING_ERROR,
        CorrectionReason.NEW_INFORMATION,
    } <= set(reasons)
    fields = Counter(name for log in corrections for name in log.input["fields"])
    assert {"given_name", "contact_phone", "region", "needs_accommodation", "consent"} <= set(fields)
    assessed = age_assessed()
    referrals = Referral.objects.in_bulk(logs)
    found_adult = [
        r for pk, r in referrals.items() if pk in assessed and not r.is_child and r.local_authority
    ]
    found_child = [
        r
        for r in referrals.values()
        if any("local_authority" in log.input["fields"] for log in logs[r.pk] if log.transition == "correct")
    ]
    assert found_adult and found_child
    for referral in referrals.values():
        referred_on = timezone.localdate(referral.submitted_at)
        # The stored details are the corrected ones: whether a child, the digests, the intake's rules.
        assert referral.is_child == is_child(
            date_of_birth=referral.date_of_birth,
            age_estimate=referral.age_estimate,
            age_in_doubt=referral.age_in_doubt,
            on=referred_on,
        )
        assert (referral.name_digest, referral.birth_date_digest) == referral.person_digests()
        errors = referral_errors(corrected_values(referral, {}), child_on=referred_on)
        if referral.pk in assessed and not referral.is_child:
            errors.pop("consent", None)
            errors.pop("local_authority", None)
            errors.pop("local_authority_contact", None)
        assert errors == {}, referral.reference
        history = logs[referral.pk]
        for before, log in itertools.pairwise(history):
            if log.transition in ("correct", "reassess"):
                # Taken in the state the case was in, while it was open, and leaving it there.
                assert log.from_state == log.to_state == before.to_state in OPEN_STATES
        for log in history:
            if log.transition == "correct":
                assert log.input["fields"] == [
                    name for name in CORRECTABLE_FIELDS if name in log.input["fields"]
                ]
        changes = [log for log in history if log.transition == "reassess"]
        if changes:
            assert changes[-1].input["route"] == referral.route and changes[-1].input["risk"] == referral.risk
            assert (referral.route == Route.ACCOMMODATION) == referral.needs_accommodation
            # Not while an offer awaits its answer: before the first offer.
            offers = [log for log in history if log.transition == "offer"]
            assert not offers or changes[0].at < offers[0].at


def test_nothing_generated_happens_after_the_seeding() -> None:
    """A case turned down lately waits for its next offer: none is made, nor logged, in the future."""
    seed(referrals=3000)
    now = timezone.now()
    assert not TransitionLog.objects.filter(at__gt=now).exists()
    assert not PlacementOffer.objects.filter(offered_at__gt=now).exists()
    assert not Deadline.objects.filter(started_at__gt=now).exists()
