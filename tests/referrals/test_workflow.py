import datetime
import importlib
import threading

import pytest
from django.db import connection, migrations
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from care_providers.models import OfferState, PlacementOffer
from notifications.models import Event, InboxItem
from notifications.sweep import sweep_deadlines
from referrals import services, validation
from referrals.choices import ReferralState
from referrals.deadlines import start_clock
from referrals.exceptions import HarbourError, NotPermitted, PersonStillMissing, TransitionNotAllowed
from referrals.models import Clock, Referral
from reports.selectors import ReportFilter, caseload_report
from tests.api.cases import Case, bring_to, valid_body
from tests.factories import (
    CareProviderFactory,
    manager,
    placed_since,
    provider_user,
    responder,
    submitted_referral,
)

pytestmark = pytest.mark.django_db


def test_submit_gives_a_received_referral_with_a_reference_and_an_assessment_clock():
    referral = submitted_referral()
    assert referral.state == ReferralState.RECEIVED
    assert referral.reference.startswith("HBR-")
    assert list(referral.deadlines.values_list("clock", flat=True)) == [Clock.ASSESSMENT]
    assert [log.transition for log in referral.transitions.all()] == ["submit"]


def test_the_state_cannot_be_assigned_only_changed_by_a_transition():
    referral = submitted_referral()
    # Neither on the case a service hands back nor on one loaded afresh.
    for instance in (referral, Referral.objects.get(pk=referral.pk)):
        with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
            instance.state = ReferralState.PLACED


def test_references_are_unique_and_sequential_within_a_year():
    first, second = submitted_referral(), submitted_referral()
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1


def test_assess_moves_to_assessed_and_swaps_the_clocks():
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=manager(), risk="high", route="accommodation")
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
    open_clocks = set(referral.deadlines.filter(stopped_at__isnull=True).values_list("clock", flat=True))
    assert open_clocks == {Clock.PLACEMENT}


def test_an_offers_answer_clock_is_created_pointing_at_the_offer_not_updated_to_it_afterwards():
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    provider = CareProviderFactory()
    with CaptureQueriesContext(connection) as captured:
        offer = services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    clock = referral.deadlines.get(clock=Clock.OFFER_RESPONSE)
    assert clock.offer == offer
    assert clock.due_at == offer.response_due_at
    assert clock.started_at == offer.offered_at
    writes = [query["sql"] for query in captured if query["sql"].startswith('UPDATE "referrals_deadline"')]
    assert not [sql for sql in writes if '"offer_id"' in sql.split("WHERE")[0]]


def test_assessing_twice_is_refused_as_a_conflict():
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    with pytest.raises(TransitionNotAllowed):
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")


def test_a_first_responder_cannot_assess():
    referral = submitted_referral()
    with pytest.raises(NotPermitted):
        services.assess_referral(
            referral_id=referral.pk, actor=referral.submitted_by, risk="low", route="outreach"
        )


def test_another_organisation_cannot_see_the_referral_to_act_on_it():
    referral = submitted_referral()
    with pytest.raises(Referral.DoesNotExist):
        services.withdraw_referral(referral_id=referral.pk, actor=responder(), reason="duplicate")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_assessments_give_one_success_and_one_conflict():
    referral = submitted_referral()
    managers = [manager(), manager()]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def assess(actor):
        try:
            barrier.wait()
            services.assess_referral(referral_id=referral.pk, actor=actor, risk="medium", route="outreach")
            outcomes.append("ok")
        except TransitionNotAllowed:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=assess, args=(actor,)) for actor in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert referral.transitions.filter(transition="assess").count() == 1


@pytest.mark.parametrize(
    ("hour", "days_ahead", "allowed"),
    [
        (9, 0, True),  # due at 17:00 today, still ahead
        (18, 0, False),  # 17:00 today has passed: it would be overdue at once
        (18, 1, True),
        (9, -1, False),
        (9, 90, True),
        (9, 91, False),  # months away would switch the check-in clock off
    ],
)
def test_a_next_check_in_must_fall_due_after_now_and_within_ninety_days(
    monkeypatch, hour, days_ahead, allowed
):
    now = timezone.make_aware(datetime.datetime(2026, 6, 10, hour, 30))
    monkeypatch.setattr(validation.timezone, "localtime", lambda *args: now)
    errors = validation.next_check_in_errors(now.date() + datetime.timedelta(days=days_ahead))
    assert (errors == []) is allowed
    if not allowed:
        assert errors[0].startswith("Choose a next check-in from")


@pytest.mark.parametrize(
    ("seen", "refusal"),
    [
        (datetime.timedelta(hours=-1), None),
        (datetime.timedelta(minutes=4), None),  # read from a clock a few minutes fast
        (datetime.timedelta(minutes=6), "The time last seen cannot be in the future."),
        (datetime.timedelta(days=-2), "The person cannot have been last seen before their placement began"),
    ],
)
def test_a_missing_person_is_last_seen_after_their_placement_began_and_at_most_a_few_minutes_ahead(
    seen, refusal
):
    referral = Referral.objects.get(pk=bring_to("placed").referral.pk)
    placed_since(referral, timezone.now() - datetime.timedelta(days=1))
    errors = validation.last_seen_errors(referral, timezone.now() + seen)
    assert errors == [] if refusal is None else errors[0].startswith(refusal)


def test_a_missing_person_last_seen_hours_before_a_placement_made_the_same_day_is_refused_to_the_minute():
    """Placed at 11:54 and said to be last seen at 01:30 the same day: a typo that would head every
    overdue list. The minute the placement began is allowed, as the form gives no seconds."""
    referral = Referral.objects.get(pk=bring_to("placed").referral.pk)
    began = timezone.now().replace(second=37)
    placed_since(referral, began)
    assert validation.last_seen_errors(referral, began.replace(second=0)) == []
    refused = validation.last_seen_errors(referral, began - datetime.timedelta(hours=10))
    assert refused == [
        f"The person cannot have been last seen before their placement began, at "
        f"{timezone.localtime(began):%H:%M on %-d %B %Y}: enter when they were last seen since then."
    ]


def test_a_person_recorded_as_found_cannot_be_reported_missing_since_before_they_were_found():
    """Found at 13:05 and missing again "since 26 November": the case would show days overdue. A last
    seen time from the finding on is allowed."""
    case = bring_to("placed")
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=4))
    services.report_missing(
        referral_id=case.referral.pk,
        actor=case.provider_user,
        last_seen_at=timezone.now() - datetime.timedelta(days=3),
    )
    services.mark_found(referral_id=case.referral.pk, actor=case.provider_user)
    referral = Referral.objects.get(pk=case.referral.pk)
    found_at = referral.transitions.get(transition="found").at
    refused = validation.last_seen_errors(referral, timezone.now() - datetime.timedelta(days=2))
    assert refused == [
        f"The person cannot have been last seen before they were recorded as found, at "
        f"{timezone.localtime(found_at):%H:%M on %-d %B %Y}: enter when they were last seen since then."
    ]
    assert validation.last_seen_errors(referral, found_at.replace(second=0, microsecond=0)) == []


def test_a_person_recorded_as_seen_in_person_cannot_be_reported_missing_since_before_that_time():
    """A provider's note says they saw her at 18:40; a missing report "last seen yesterday" would make the
    case a day overdue too soon. Nothing beyond the provider's name and the time is said, with how to
    correct a wrong time."""
    house = CareProviderFactory(name="Elm House")
    case = bring_to("placed", provider=house)
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=5))
    seen = timezone.now() - datetime.timedelta(days=1)
    services.record_progress(
        referral_id=case.referral.pk, actor=case.provider_user, note="Visited her.", seen_at=seen
    )
    referral = Referral.objects.get(pk=case.referral.pk)
    refused = validation.last_seen_errors(referral, seen - datetime.timedelta(hours=3))
    assert refused == [
        f"The person cannot have been last seen before they were recorded as seen in person by Elm House, "
        f"at {timezone.localtime(seen):%H:%M on %-d %B %Y}: enter when they were last seen since then. "
        "If that time was wrong, Elm House can correct it first with a progress note giving the right time."
    ]
    assert validation.last_seen_errors(referral, seen.replace(second=0, microsecond=0)) == []


def test_a_later_note_with_an_earlier_time_seen_corrects_the_sighting_a_missing_report_is_held_to():
    """At 23:00 the provider typed 22:00 for 10:00. The person, last seen at 10:30, could only be
    reported missing since a false later time, until a later note gives the right one: the latest note
    to give a time decides, not the latest time."""
    case = bring_to("placed", provider=CareProviderFactory(name="Elm House"))
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=1))
    right = timezone.now() - datetime.timedelta(hours=13)
    for seen_at in (right + datetime.timedelta(hours=12), right):  # the mistake, then its correction
        services.record_progress(
            referral_id=case.referral.pk, actor=case.provider_user, note="Visited her.", seen_at=seen_at
        )
    services.record_progress(referral_id=case.referral.pk, actor=case.provider_user, note="No time given.")
    referral = Referral.objects.get(pk=case.referral.pk)
    assert validation.last_seen_errors(referral, right + datetime.timedelta(minutes=30)) == []
    refused = validation.last_seen_errors(referral, right - datetime.timedelta(minutes=30))
    assert refused[0].startswith(
        "The person cannot have been last seen before they were recorded as seen in person by Elm House, "
        f"at {timezone.localtime(right):%H:%M on %-d %B %Y}:"
    )


def test_a_progress_note_without_a_time_seen_is_no_sighting_whenever_it_was_written():
    """A note about an absence ("not back since Tuesday") is written before the missing report: its own
    time must not refuse the true time last seen."""
    case = bring_to("placed")
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=5))
    services.record_progress(referral_id=case.referral.pk, actor=case.provider_user, note="Not back yet.")
    referral = Referral.objects.get(pk=case.referral.pk)
    assert validation.last_seen_errors(referral, timezone.now() - datetime.timedelta(days=2)) == []


@pytest.mark.parametrize(
    ("seen", "refusal"),
    [
        (datetime.timedelta(hours=-1), None),
        (datetime.timedelta(minutes=4), None),  # read from a clock a few minutes fast
        (datetime.timedelta(minutes=6), "The time you last saw them cannot be in the future."),
        (datetime.timedelta(days=-2), "Enter when you saw them since their placement began, at "),
    ],
)
def test_a_progress_note_refuses_a_time_seen_in_the_future_or_before_the_placement_and_records_nothing(
    seen, refusal
):
    case = bring_to("placed")
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=1))
    record = {"referral_id": case.referral.pk, "actor": case.provider_user, "note": "Visited."}
    seen_at = timezone.now() + seen
    if refusal is None:
        services.record_progress(**record, seen_at=seen_at)
        assert case.referral.transitions.last().input["seen_at"] == seen_at.isoformat()
        return
    with pytest.raises(HarbourError) as refused:
        services.record_progress(**record, seen_at=seen_at)
    assert refused.value.field == "seen_at" and refused.value.message.startswith(refusal)
    assert not case.referral.transitions.filter(transition="record_progress").exists()


@pytest.mark.parametrize("days_ahead", [-1, 91], ids=["past", "months away"])
def test_a_progress_note_refuses_a_next_check_in_past_or_months_away_whoever_calls_it(days_ahead):
    """Not the web form's and the API input's check alone: an admin action or a task calls the service."""
    case = bring_to("placed")
    check_in = case.referral.deadlines.get(clock=Clock.CHECK_IN, stopped_at__isnull=True)
    with pytest.raises(HarbourError) as refused:
        services.record_progress(
            referral_id=case.referral.pk,
            actor=case.provider_user,
            note="Visited.",
            next_check_in=timezone.localdate() + datetime.timedelta(days=days_ahead),
        )
    assert refused.value.field == "next_check_in"
    assert refused.value.message.startswith("Choose a next check-in from")
    assert not case.referral.transitions.filter(transition="record_progress").exists()
    assert case.referral.deadlines.get(clock=Clock.CHECK_IN, stopped_at__isnull=True) == check_in


def test_reporting_missing_refuses_a_last_seen_time_in_the_future_and_records_nothing():
    case = bring_to("placed")
    with pytest.raises(HarbourError) as refused:
        services.report_missing(
            referral_id=case.referral.pk,
            actor=case.provider_user,
            last_seen_at=timezone.now() + datetime.timedelta(days=1),
        )
    assert refused.value.field == "last_seen_at"
    assert case.refresh().state == ReferralState.PLACED
    assert not case.referral.transitions.filter(transition="report_missing").exists()


def _placed_again(case: Case) -> None:
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    other = CareProviderFactory()
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=other.pk)
    services.accept_offer(referral_id=case.referral.pk, actor=provider_user(other))


def test_a_reallocated_case_keeps_the_time_of_its_first_placement():
    case = bring_to("placed")
    first = case.refresh().first_placed_at
    _placed_again(case)
    referral = case.refresh()
    assert first is not None and referral.first_placed_at == first < referral.placed_at


def _run_migration_sql(name: str) -> None:
    migration = importlib.import_module(f"referrals.migrations.{name}").Migration
    with connection.cursor() as cursor:
        for operation in migration.operations:
            if isinstance(operation, migrations.RunSQL):
                cursor.execute(operation.sql)


@pytest.mark.parametrize(
    "name", ["0003_referral_first_placed_at", "0007_first_placed_at_of_reallocated_cases"]
)
def test_the_migrations_give_a_case_reallocated_and_waiting_the_start_of_its_first_placement(name):
    case = bring_to("placed")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    Referral.objects.filter(pk=case.referral.pk).update(first_placed_at=None)  # as 0003 found or left it
    for _ in range(2):  # run again, as after an interruption: nothing changes
        _run_migration_sql(name)
        assert case.refresh().first_placed_at == case.referral.placements.get().started_at


def test_the_repair_migration_corrects_a_first_placement_recorded_late_and_leaves_the_rest():
    placed_again, placed_once = bring_to("placed"), bring_to("placed")
    never_placed = bring_to("assessed")
    # Reallocated with no first placement, as 0003 left it: its next acceptance recorded the second
    # placement as its first.
    Referral.objects.filter(pk=placed_again.referral.pk).update(first_placed_at=None)
    _placed_again(placed_again)
    recorded_once = placed_once.refresh().first_placed_at
    for _ in range(2):
        _run_migration_sql("0007_first_placed_at_of_reallocated_cases")
        first = placed_again.referral.placements.order_by("started_at").values_list("started_at", flat=True)
        assert placed_again.refresh().first_placed_at == first[0]
        assert placed_once.refresh().first_placed_at == recorded_once
        assert never_placed.refresh().first_placed_at is None


def _open_clocks(referral: Referral) -> set[str]:
    return set(referral.deadlines.filter(stopped_at__isnull=True).values_list("clock", flat=True))


def test_a_person_reallocated_while_missing_is_escalated_and_offered_nowhere_until_found():
    case = bring_to("missing")
    pk = case.referral.pk
    services.reallocate_referral(referral_id=pk, actor=case.manager, reason="provider_closing")
    assert _open_clocks(case.referral) == {Clock.MISSING}
    sweep_deadlines(now=timezone.now() + datetime.timedelta(hours=25))
    assert InboxItem.objects.filter(referral_id=pk, event=Event.STILL_MISSING).exists()
    with pytest.raises(PersonStillMissing):
        services.offer_placement(referral_id=pk, actor=case.manager, provider_id=case.provider.pk)
    assert not PlacementOffer.objects.filter(referral_id=pk, state=OfferState.PENDING).exists()

    services.mark_found(referral_id=pk, actor=case.manager, note="At the police station")
    services.offer_placement(referral_id=pk, actor=case.manager, provider_id=case.provider.pk)
    services.accept_offer(referral_id=pk, actor=case.provider_user)
    assert _open_clocks(case.referral) == {Clock.CHECK_IN, Clock.RECOVERY_REVIEW}


def test_a_person_reallocated_while_missing_has_no_placement_deadline_until_found():
    case = bring_to("missing")
    pk = case.referral.pk
    services.reallocate_referral(referral_id=pk, actor=case.manager, reason="provider_closing")
    # Well past the placement deadline: nobody may offer a placement yet, so nothing is overdue but the
    # missing person.
    sweep_deadlines(now=timezone.now() + datetime.timedelta(days=10))
    assert _open_clocks(case.referral) == {Clock.MISSING}
    assert not InboxItem.objects.filter(referral_id=pk, event=Event.DEADLINE_BREACHED).exists()

    services.mark_found(referral_id=pk, actor=case.manager, note="At the police station")
    found_at = case.referral.transitions.get(transition="found").at
    placement = case.referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    assert placement.started_at >= found_at


def test_the_migration_removes_the_placement_clock_an_earlier_release_started_while_missing():
    reallocated, waiting = bring_to("missing"), bring_to("assessed")
    services.reallocate_referral(
        referral_id=reallocated.referral.pk, actor=reallocated.manager, reason="other"
    )
    start_clock(reallocated.referral, Clock.PLACEMENT)  # as the release before this one did
    for _ in range(2):
        _run_migration_sql("0008_no_placement_clock_while_missing")
        assert _open_clocks(reallocated.referral) == {Clock.MISSING}
        assert _open_clocks(waiting.referral) == {Clock.PLACEMENT}


def test_a_missing_persons_recovery_review_is_paused_until_found_and_no_clock_of_theirs_is_overdue_but_missing():
    case = bring_to("placed")
    # The review was already overdue when they went missing: it waits for them all the same.
    review = case.referral.deadlines.get(clock=Clock.RECOVERY_REVIEW)
    review.due_at = timezone.now() - datetime.timedelta(days=10)
    review.save()
    services.report_missing(
        referral_id=case.referral.pk, actor=case.provider_user, last_seen_at=timezone.now()
    )
    assert _open_clocks(case.referral) == {Clock.MISSING}
    review.refresh_from_db()
    assert review.paused and review.stopped_at is not None
    (listed,) = [
        row for row in caseload_report(ReportFilter()).overdue if row.reference == case.referral.reference
    ]
    assert (listed.clock, listed.also_overdue) == (Clock.MISSING, [])
    services.mark_found(referral_id=case.referral.pk, actor=case.provider_user)
    assert _open_clocks(case.referral) == {Clock.CHECK_IN, Clock.RECOVERY_REVIEW}
    assert case.referral.deadlines.get(clock=Clock.RECOVERY_REVIEW).due_at < timezone.now()  # still overdue


def test_the_migration_pauses_the_reviews_of_people_missing_now_from_when_they_went_missing():
    from django.apps import apps

    migration = importlib.import_module("referrals.migrations.0017_pause_missing_recovery_reviews")
    ahead, overdue, placed = bring_to("missing"), bring_to("missing"), bring_to("placed")
    went = timezone.now() - datetime.timedelta(days=10)
    day = datetime.timedelta(days=1)
    # As the release before left them: running since, and escalated while missing, or before.
    for case, due in ((ahead, went + 5 * day), (overdue, went - day)):
        Referral.objects.filter(pk=case.referral.pk).update(state_changed_at=went)
        case.referral.deadlines.filter(clock=Clock.RECOVERY_REVIEW).update(
            stopped_at=None, paused=False, due_at=due, reminded_at=due - day, breached_at=due
        )
    reminder = InboxItem.objects.create(
        user=ahead.provider_user, event=Event.DEADLINE_REMINDER, referral=ahead.referral,
        clock=Clock.RECOVERY_REVIEW, message="Deadline approaching",
    )  # fmt: skip
    for _ in range(2):  # run again, as after an interruption: nothing changes
        migration.pause_missing_recovery_reviews(apps, None)
        review_ahead, review_overdue, review_placed = (
            case.referral.deadlines.get(clock=Clock.RECOVERY_REVIEW) for case in (ahead, overdue, placed)
        )
        assert all(review.paused and review.stopped_at == went for review in (review_ahead, review_overdue))
        # Still ahead when they went missing: its reminder and escalation go again once it runs on.
        assert (review_ahead.reminded_at, review_ahead.breached_at) == (None, None)
        reminder.refresh_from_db()
        assert reminder.read_at is not None
        assert review_overdue.breached_at == went - day
        assert not review_placed.paused and review_placed.stopped_at is None
    services.mark_found(referral_id=ahead.referral.pk, actor=ahead.manager)
    resumed = ahead.referral.deadlines.get(clock=Clock.RECOVERY_REVIEW, stopped_at__isnull=True)
    assert resumed.due_at - timezone.now() > 5 * day - datetime.timedelta(minutes=1)
    migration.run_paused_reviews_again(apps, None)  # undone, as the release before ran them
    assert (
        overdue.referral.deadlines.get(clock=Clock.RECOVERY_REVIEW, stopped_at__isnull=True).due_at
        == went - day
    )


@pytest.mark.parametrize("transition", ["exit", "reallocate"])
def test_an_exit_or_a_reallocation_while_missing_stops_the_paused_recovery_review_for_good(transition):
    case = bring_to("missing")
    pk = case.referral.pk
    paused = case.referral.deadlines.get(clock=Clock.RECOVERY_REVIEW)
    services.TRANSITION_SERVICES[transition](referral_id=pk, actor=case.manager, **valid_body(transition))
    paused.refresh_from_db()
    assert paused.stopped_at is not None and not paused.paused
    if transition == "exit":
        return
    services.mark_found(referral_id=pk, actor=case.manager)
    assert _open_clocks(case.referral) == {Clock.PLACEMENT}
    other = CareProviderFactory()
    services.offer_placement(referral_id=pk, actor=case.manager, provider_id=other.pk)
    staff = provider_user(other)
    services.accept_offer(referral_id=pk, actor=staff)
    # Missing and found again: the new placement's review runs on, never the one before.
    services.report_missing(referral_id=pk, actor=staff, last_seen_at=timezone.now())
    services.mark_found(referral_id=pk, actor=staff)
    (running,) = case.referral.deadlines.filter(clock=Clock.RECOVERY_REVIEW, stopped_at__isnull=True)
    assert running.pk != paused.pk
    paused.refresh_from_db()
    assert paused.stopped_at is not None and not paused.paused


def test_a_reallocation_from_a_placement_starts_the_placement_deadline_at_once():
    case = bring_to("placed")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    assert _open_clocks(case.referral) == {Clock.PLACEMENT}


def test_a_person_reallocated_while_missing_can_be_marked_found_while_awaiting_a_placement():
    case = bring_to("missing")
    pk = case.referral.pk
    services.reallocate_referral(referral_id=pk, actor=case.manager, reason="provider_closing")
    services.mark_found(referral_id=pk, actor=case.manager, note="At the police station")
    assert case.refresh().state == ReferralState.ASSESSED
    assert _open_clocks(case.referral) == {Clock.PLACEMENT}
    assert InboxItem.objects.filter(referral_id=pk, event=Event.PERSON_FOUND, user=case.responder).exists()
    with pytest.raises(TransitionNotAllowed):  # found once is enough
        services.mark_found(referral_id=pk, actor=case.manager)


def test_an_assessed_case_that_was_never_missing_cannot_be_marked_found():
    case = bring_to("assessed")
    with pytest.raises(TransitionNotAllowed):
        services.mark_found(referral_id=case.referral.pk, actor=case.manager)


def test_a_person_reallocated_while_missing_who_never_comes_back_can_be_exited():
    case = bring_to("missing")
    pk = case.referral.pk
    services.reallocate_referral(referral_id=pk, actor=case.manager, reason="provider_closing")
    services.exit_referral(referral_id=pk, actor=case.manager, reason="lost_contact")
    referral = case.refresh()
    assert referral.state == ReferralState.EXITED and referral.closed_at is not None
    assert _open_clocks(referral) == set()
    sweep_deadlines(now=timezone.now() + datetime.timedelta(hours=49))
    assert not InboxItem.objects.filter(referral_id=pk, event=Event.STILL_MISSING).exists()


def test_an_assessed_case_that_was_never_missing_cannot_be_exited():
    case = bring_to("assessed")
    with pytest.raises(TransitionNotAllowed):
        services.exit_referral(referral_id=case.referral.pk, actor=case.manager, reason="lost_contact")


@pytest.mark.parametrize(
    ("state", "transition", "event"),
    [
        ("placed", "reallocate", Event.REFERRAL_REALLOCATED),
        ("placed", "recover", Event.REFERRAL_RECOVERED),
        ("placed", "exit", Event.REFERRAL_EXITED),
        ("placed", "report_missing", Event.PERSON_MISSING),
        ("missing", "found", Event.PERSON_FOUND),
        ("missing", "exit", Event.REFERRAL_EXITED),
    ],
)
def test_the_placed_provider_is_told_when_a_manager_acts_on_its_placement(state, transition, event):
    case = bring_to(state)
    body = valid_body(transition)
    if transition == "report_missing":
        body["last_seen_at"] = timezone.now()
    services.TRANSITION_SERVICES[transition](referral_id=case.referral.pk, actor=case.manager, **body)
    told = InboxItem.objects.filter(referral_id=case.referral.pk, event=event)
    assert told.filter(user=case.provider_user).exists()


def test_the_provider_is_not_told_of_what_it_did_itself_and_the_referrer_is_told_of_a_reallocation():
    case = bring_to("placed")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.provider_user, reason="other")
    told = InboxItem.objects.filter(referral_id=case.referral.pk, event=Event.REFERRAL_REALLOCATED)
    assert told.filter(user=case.responder).exists()
    assert not told.filter(user=case.provider_user).exists()
