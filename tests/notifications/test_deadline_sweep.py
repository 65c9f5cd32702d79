"""The deadline sweep: each reminder and each escalation once per clock, to the right people (SPEC §5)."""

import datetime
import json
import threading

import pytest
from django.core import mail
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from care_providers.models import OfferState
from notifications.delivery import deliver
from notifications.models import MISSING_EVENTS, Event, InboxItem, Notification
from notifications.services import inbox_message
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.models import Clock, Deadline, Referral
from referrals.templatetags.moments import moment
from tests.factories import (
    CareProviderFactory,
    aware,
    manager,
    placed_since,
    provider_user,
    submitted_referral,
)

from .conftest import CHILDRENS_SERVICES, personal_data_in

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)


def clock(referral, kind):
    return Deadline.objects.get(referral=referral, clock=kind, stopped_at__isnull=True)


def items(event, user=None):
    found = InboxItem.objects.filter(event=event)
    return found.filter(user=user) if user else found


def assessed(boss, **fields):
    referral = submitted_referral(**fields)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    return referral


def offered(boss, **fields):
    referral = assessed(boss, **fields)
    provider = CareProviderFactory()
    staff = provider_user(provider)
    offer = services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    return referral, offer, staff


def placed(boss, **fields):
    referral, offer, staff = offered(boss, **fields)
    services.accept_offer(referral_id=referral.pk, actor=staff)
    return referral, staff


def test_the_assessment_reminder_goes_to_managers_once():
    boss = manager()
    referral = submitted_referral()
    assessment = clock(referral, Clock.ASSESSMENT)
    sweep_deadlines(now=assessment.remind_at - SECOND)
    assert items(Event.DEADLINE_REMINDER).count() == 0

    sweep_deadlines(now=assessment.remind_at + SECOND)
    sweep_deadlines(now=assessment.remind_at + 2 * SECOND)

    assert items(Event.DEADLINE_REMINDER, boss).count() == 1
    assert not items(Event.DEADLINE_REMINDER, referral.submitted_by).exists()
    assessment.refresh_from_db()
    assert assessment.reminded_at is not None
    assert Notification.objects.filter(event=Event.DEADLINE_REMINDER, due_at=assessment.due_at).count() == 1


def test_a_breach_escalates_to_managers_once():
    boss = manager()
    referral = submitted_referral()
    assessment = clock(referral, Clock.ASSESSMENT)
    for minutes in (1, 2, 60):
        sweep_deadlines(now=assessment.due_at + datetime.timedelta(minutes=minutes))
    assert items(Event.DEADLINE_BREACHED, boss).count() == 1
    assert not items(Event.DEADLINE_BREACHED, referral.submitted_by).exists()
    assessment.refresh_from_db()
    assert assessment.breached_at is not None and assessment.escalations == 1


def test_a_clock_first_seen_after_its_due_time_escalates_without_a_late_reminder():
    boss = manager()
    referral = submitted_referral()
    sweep_deadlines(now=clock(referral, Clock.ASSESSMENT).due_at + HOUR)
    assert items(Event.DEADLINE_BREACHED, boss).count() == 1
    assert items(Event.DEADLINE_REMINDER).count() == 0


def test_a_clock_stops_when_its_transition_happens():
    boss = manager()
    referral = submitted_referral()
    assessment = clock(referral, Clock.ASSESSMENT)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    assessment.refresh_from_db()
    assert assessment.stopped_at is not None

    sweep_deadlines(now=assessment.remind_at + SECOND)
    sweep_deadlines(now=assessment.due_at + SECOND)
    # By clock, not by due time: the placement clock started at once after it can fall due with it (both
    # count from 09:00 on the next working day when the case was made outside one).
    assert not Notification.objects.filter(referral=referral, clock=Clock.ASSESSMENT).exists()


def test_the_offer_reminder_goes_to_the_offered_provider():
    boss = manager()
    referral, offer, staff = offered(boss)
    response = clock(referral, Clock.OFFER_RESPONSE)
    sweep_deadlines(now=response.remind_at + SECOND)
    assert items(Event.DEADLINE_REMINDER, staff).count() == 1
    assert not items(Event.DEADLINE_REMINDER, boss).filter(reference=referral.reference).exists()


def test_an_unanswered_offer_expires_and_managers_are_told_once():
    boss = manager()
    referral, offer, staff = offered(boss)
    response = clock(referral, Clock.OFFER_RESPONSE)
    for minutes in (1, 2):
        sweep_deadlines(now=response.due_at + datetime.timedelta(minutes=minutes))
    offer.refresh_from_db()
    assert offer.state == OfferState.EXPIRED
    assert items(Event.OFFER_EXPIRED, boss).count() == 1
    assert not items(Event.DEADLINE_BREACHED).filter(reference=referral.reference).exists()
    response.refresh_from_db()
    assert response.stopped_at is not None and response.breached_at is not None


def test_an_answered_offer_never_expires():
    boss = manager()
    referral, offer, staff = offered(boss)
    response = clock(referral, Clock.OFFER_RESPONSE)
    services.reject_offer(referral_id=referral.pk, actor=staff, reason="no_capacity")
    sweep_deadlines(now=response.due_at + HOUR)
    offer.refresh_from_db()
    assert offer.state == OfferState.REJECTED
    assert not items(Event.OFFER_EXPIRED).exists()


def test_check_in_and_recovery_review_reminders_go_to_the_placed_provider():
    boss = manager()
    referral, staff = placed(boss)
    check_in = clock(referral, Clock.CHECK_IN)
    review = clock(referral, Clock.RECOVERY_REVIEW)
    sweep_deadlines(now=check_in.remind_at + SECOND)
    assert items(Event.DEADLINE_REMINDER, staff).count() == 1
    sweep_deadlines(now=review.remind_at + SECOND)
    assert items(Event.DEADLINE_REMINDER, staff).count() == 2
    assert not items(Event.DEADLINE_REMINDER, boss).exists()
    # Each says which deadline it is, in the inbox and in what leaves Harbour.
    messages = sorted(items(Event.DEADLINE_REMINDER, staff).values_list("message", flat=True))
    assert [message.split(" (due")[0] for message in messages] == [
        f"Deadline approaching: {referral.reference}, check-in",
        f"Deadline approaching: {referral.reference}, recovery review",
    ]
    sent = Notification.objects.filter(event=Event.DEADLINE_REMINDER).values_list("clock", flat=True)
    assert sorted(set(sent)) == ["check_in", "recovery_review"]


def unread(event, referral, clock):
    return InboxItem.objects.filter(event=event, referral=referral, clock=clock, read_at__isnull=True)


def test_a_check_in_reminder_is_read_once_the_progress_note_meets_it_and_the_review_reminder_waits():
    boss = manager()
    referral, staff = placed(boss)
    sweep_deadlines(now=clock(referral, Clock.CHECK_IN).remind_at + SECOND)
    sweep_deadlines(now=clock(referral, Clock.RECOVERY_REVIEW).remind_at + SECOND)
    assert unread(Event.DEADLINE_REMINDER, referral, Clock.CHECK_IN).filter(user=staff).exists()
    assert unread(Event.DEADLINE_REMINDER, referral, Clock.RECOVERY_REVIEW).filter(user=staff).exists()

    services.record_progress(referral_id=referral.pk, actor=staff, note="Settled in")

    assert not unread(Event.DEADLINE_REMINDER, referral, Clock.CHECK_IN).exists()
    # A plain note is not the recovery review: that reminder still asks for it.
    assert unread(Event.DEADLINE_REMINDER, referral, Clock.RECOVERY_REVIEW).filter(user=staff).exists()
    # The check-in was missed before the note (the second sweep ran past its due time): managers keep that.
    assert unread(Event.DEADLINE_BREACHED, referral, Clock.CHECK_IN).filter(user=boss).exists()


def test_the_managers_assessment_reminder_is_read_once_assessed_and_its_breach_stays_unread():
    boss = manager()
    referral = submitted_referral()
    assessment = clock(referral, Clock.ASSESSMENT)
    sweep_deadlines(now=assessment.remind_at + SECOND)
    sweep_deadlines(now=assessment.due_at + SECOND)
    assert unread(Event.DEADLINE_REMINDER, referral, Clock.ASSESSMENT).filter(user=boss).exists()

    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")

    assert not unread(Event.DEADLINE_REMINDER, referral, Clock.ASSESSMENT).exists()
    assert unread(Event.DEADLINE_BREACHED, referral, Clock.ASSESSMENT).filter(user=boss).exists()


def test_a_missing_persons_recovery_review_reminder_waits_until_they_are_found():
    """The provider cannot record a review while the person is missing (record_progress is refused)."""
    boss = manager()
    referral, staff = placed(boss)
    review = clock(referral, Clock.RECOVERY_REVIEW)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    sweep_deadlines(now=review.remind_at + SECOND)
    assert not items(Event.DEADLINE_REMINDER).exists()

    services.mark_found(referral_id=referral.pk, actor=staff)
    sweep_deadlines(now=review.remind_at + 2 * SECOND)
    assert items(Event.DEADLINE_REMINDER, staff).count() == 1
    assert not items(Event.DEADLINE_REMINDER, boss).exists()


def test_a_missing_persons_recovery_review_is_not_escalated_and_runs_on_with_its_time_left_once_found():
    boss = manager()
    referral, staff = placed(boss)
    review = clock(referral, Clock.RECOVERY_REVIEW)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    # Reported ten days ago, and missing since, past the review's due time: nobody can hold it.
    Deadline.objects.filter(pk=review.pk).update(stopped_at=F("stopped_at") - datetime.timedelta(days=10))
    sweep_deadlines(now=review.due_at + datetime.timedelta(days=1))
    assert not InboxItem.objects.filter(event__in=(Event.DEADLINE_REMINDER, Event.DEADLINE_BREACHED)).exists()

    services.mark_found(referral_id=referral.pk, actor=staff)
    resumed = clock(referral, Clock.RECOVERY_REVIEW)
    held = resumed.due_at - review.due_at  # the ten days, and the moments the test took
    assert resumed.pk == review.pk and datetime.timedelta(days=10) <= held < datetime.timedelta(
        days=10, minutes=1
    )
    assert resumed.remind_at == review.remind_at + held
    reviews = InboxItem.objects.filter(clock=Clock.RECOVERY_REVIEW)
    sweep_deadlines(now=resumed.remind_at + SECOND)
    (reminder,) = reviews.filter(event=Event.DEADLINE_REMINDER, user=staff)
    assert reminder.message.endswith(f"(due {moment(resumed.due_at)})")
    sweep_deadlines(now=resumed.due_at + SECOND)
    assert reviews.filter(event=Event.DEADLINE_BREACHED, user=boss).count() == 1


def test_missing_escalates_at_once_and_again_every_repeat_until_found(settings):
    settings.MISSING_REPEAT_HOURS = 24
    boss = manager()
    referral, staff = placed(boss)
    referrer = referral.submitted_by
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    assert items(Event.PERSON_MISSING, boss).count() == 1
    assert items(Event.PERSON_MISSING, referrer).count() == 1

    missing = clock(referral, Clock.MISSING)
    first_due = missing.due_at
    sweep_deadlines(now=first_due + SECOND)
    sweep_deadlines(now=first_due + 2 * SECOND)
    assert items(Event.STILL_MISSING, boss).count() == 1
    assert items(Event.STILL_MISSING, referrer).count() == 1
    missing.refresh_from_db()
    assert missing.escalations == 1 and missing.breached_at is None
    assert missing.due_at == first_due + datetime.timedelta(hours=24)

    sweep_deadlines(now=missing.due_at + SECOND)
    assert items(Event.STILL_MISSING, boss).count() == 2

    services.mark_found(referral_id=referral.pk, actor=staff)
    missing.refresh_from_db()
    assert missing.stopped_at is not None
    sweep_deadlines(now=missing.due_at + 10 * datetime.timedelta(hours=24))
    assert items(Event.STILL_MISSING, boss).count() == 2
    assert items(Event.PERSON_MISSING, boss).count() == 1


def test_a_late_sweep_sends_one_still_missing_alert_and_keeps_the_next_ones_a_day_apart(settings):
    """The worker was down: the alert due meanwhile goes once when the sweep is back, and the next ones
    still fall every MISSING_REPEAT_HOURS from the report, not from when the late sweep ran."""
    settings.MISSING_REPEAT_HOURS = 24
    day = datetime.timedelta(hours=24)
    boss = manager()
    referral, staff = placed(boss)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    first_due = clock(referral, Clock.MISSING).due_at

    sweep_deadlines(now=first_due + 2 * HOUR)  # two hours late
    assert items(Event.STILL_MISSING, boss).count() == 1
    assert clock(referral, Clock.MISSING).due_at == first_due + day
    sweep_deadlines(now=first_due + day - SECOND)
    assert items(Event.STILL_MISSING, boss).count() == 1
    sweep_deadlines(now=first_due + day + SECOND)
    assert items(Event.STILL_MISSING, boss).count() == 2

    # Down for three days: one alert, not one for each day missed, and the next on the report's time.
    sweep_deadlines(now=first_due + 4 * day + 5 * HOUR)
    assert items(Event.STILL_MISSING, boss).count() == 3
    missing = clock(referral, Clock.MISSING)
    assert missing.due_at == first_due + 5 * day and missing.escalations == 3


@pytest.mark.parametrize("child", [False, True])
def test_the_first_missing_alert_and_its_repeats_say_since_when_and_whether_a_child(webhook_receiver, child):
    boss = manager()
    fields = (
        {"date_of_birth": None, "age_estimate": 15, "consent": False, **CHILDRENS_SERVICES} if child else {}
    )
    referral, staff = placed(boss, **fields)
    referrer = referral.submitted_by
    referrer.organisation.webhook_url, referrer.organisation.webhook_secret = webhook_receiver.url, "s3cret"
    referrer.organisation.save()
    placed_since(referral, aware(2026, 3, 1, 9, 0))  # placed in March
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=aware(2026, 3, 3, 6, 8))
    sweep_deadlines(now=clock(referral, Clock.MISSING).due_at + SECOND)

    said = f"{referral.reference}, last seen 3 Mar 2026 06:08{', a child' if child else ''}"
    reported, still = f"Person reported missing: {said}", f"Person still missing: {said}"
    for user in (boss, referrer):
        alerts = InboxItem.objects.filter(user=user, event__in=MISSING_EVENTS)
        assert list(alerts.order_by("id").values_list("message", flat=True)) == [reported, still]
    for row in Notification.objects.filter(event__in=MISSING_EVENTS).order_by("sequence"):
        deliver(str(row.pk))
    emails = [message for message in mail.outbox if message.to == ["managers@contractor.test"]]
    assert [email.subject for email in emails] == [
        f"Harbour: {label} – {referral.reference}"
        for label in ("Person reported missing", "Person still missing")
    ]
    for email in emails:
        assert "Last seen: 3 Mar 2026 06:08 GMT" in email.body
        assert f"Treated as a child: {'Yes' if child else 'No'}" in email.body
        assert personal_data_in(f"{email.subject}\n{email.body}") == []
    hooks = [json.loads(hook.body) for hook in webhook_receiver.received]
    assert [hook["event"] for hook in hooks] == ["referral.missing", "referral.still_missing"]
    for hook in hooks:  # free of personal data, as the receiver checks
        assert hook["last_seen_at"] == "2026-03-03T06:08:00+00:00"
        assert hook["child"] is child


def test_an_exit_stops_the_missing_escalations():
    boss = manager()
    referral, staff = placed(boss)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    due = clock(referral, Clock.MISSING).due_at
    services.exit_referral(referral_id=referral.pk, actor=boss, reason="lost_contact")
    sweep_deadlines(now=due + HOUR)
    assert items(Event.PERSON_MISSING, boss).count() == 1
    assert not items(Event.STILL_MISSING).exists()


def test_a_sweep_costs_the_same_queries_for_one_due_clock_as_for_twenty():
    manager()
    first = submitted_referral()
    with CaptureQueriesContext(connection) as one:
        sweep_deadlines(now=clock(first, Clock.ASSESSMENT).due_at + HOUR)
    Deadline.objects.update(breached_at=None, reminded_at=None)
    for _ in range(19):
        submitted_referral()
    with CaptureQueriesContext(connection) as twenty:
        result = sweep_deadlines(now=clock(first, Clock.ASSESSMENT).due_at + HOUR)
    assert result.breaches == 20
    assert len(twenty) == len(one)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_sweeps_at_once_send_each_reminder_once(monkeypatch):
    monkeypatch.setattr("notifications.services.queue_delivery", lambda ids: len(ids))
    boss = manager()
    referrals = [submitted_referral() for _ in range(10)]
    when = max(clock(r, Clock.ASSESSMENT).remind_at for r in referrals) + SECOND
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait()
            sweep_deadlines(now=when, batch_size=3)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert items(Event.DEADLINE_REMINDER, boss).count() == 10


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_an_offer_whose_case_is_locked_waits_for_the_next_sweep_and_holds_up_no_other_escalation(
    monkeypatch,
):
    monkeypatch.setattr("notifications.services.queue_delivery", lambda ids: len(ids))
    boss = manager()
    locked_case, offer, _ = offered(boss)
    other = submitted_referral()
    when = (
        max(clock(locked_case, Clock.OFFER_RESPONSE).due_at, clock(other, Clock.ASSESSMENT).due_at) + SECOND
    )
    holding, release = threading.Event(), threading.Event()

    def hold_the_case() -> None:
        try:
            with transaction.atomic():
                Referral.objects.select_for_update().get(pk=locked_case.pk)
                holding.set()
                release.wait(30)  # a sweep that waits for the case would expire the offer after this
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_case)
    holder.start()
    try:
        assert holding.wait(30)
        result = sweep_deadlines(now=when)
        offer.refresh_from_db()
        assert offer.state == OfferState.PENDING
        assert items(Event.DEADLINE_BREACHED, boss).filter(referral=other, clock=Clock.ASSESSMENT).exists()
        assert result.offers_expired == 0
    finally:
        release.set()
        holder.join(30)
    assert sweep_deadlines(now=when).offers_expired == 1
    offer.refresh_from_db()
    assert offer.state == OfferState.EXPIRED


def test_an_inbox_reminder_shows_the_due_time_in_local_time():
    boss = manager()
    referral = submitted_referral()
    summer_morning = aware(2027, 7, 1, 9, 0)  # 08:00 UTC, during British Summer Time
    Deadline.objects.filter(referral=referral).update(
        due_at=summer_morning, remind_at=summer_morning - datetime.timedelta(days=1)
    )
    sweep_deadlines(now=summer_morning - datetime.timedelta(hours=2))
    item = items(Event.DEADLINE_REMINDER, boss).get()
    assert "(due 1 Jul 2027 09:00)" in item.message
    assert item.reference == referral.reference


def test_the_migration_gives_unread_reminders_their_clock_and_reads_those_whose_deadline_was_met():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("notifications.migrations.0005_unread_reminders_clock")
    referral, boss = submitted_referral(), manager()  # its assessment clock runs; no other does
    due = timezone.now()

    def item(event, clock, read_at=None):
        message = inbox_message(event, referral.reference, due, clock)
        InboxItem.objects.create(user=boss, event=event, referral=referral, message=message, read_at=read_at)

    item(Event.DEADLINE_REMINDER, Clock.ASSESSMENT)
    item(Event.DEADLINE_REMINDER, Clock.CHECK_IN)
    item(Event.DEADLINE_REMINDER, Clock.OFFER_RESPONSE, read_at=due)
    item(Event.DEADLINE_BREACHED, Clock.CHECK_IN)
    # A check-in met by a progress note: its clock stopped, and a new one runs from the note.
    placed_referral, staff = placed(boss)
    check_in = clock(placed_referral, Clock.CHECK_IN)
    message = inbox_message(
        Event.DEADLINE_REMINDER, placed_referral.reference, check_in.due_at, Clock.CHECK_IN
    )
    met = InboxItem.objects.create(
        user=staff, event=Event.DEADLINE_REMINDER, referral=placed_referral, message=message
    )
    services.record_progress(referral_id=placed_referral.pk, actor=staff, note="Settled in")
    for _ in range(2):  # run again, as after an interruption: nothing changes
        migration.clocks_of_unread_reminders(apps, None)
        met.refresh_from_db()
        assert (met.clock, met.read_at is not None) == (Clock.CHECK_IN, True)
        rows = InboxItem.objects.filter(referral=referral).values_list("event", "clock", "read_at")
        assert sorted((event, clock, read_at is not None) for event, clock, read_at in rows) == sorted(
            [
                (Event.DEADLINE_REMINDER, Clock.ASSESSMENT, False),  # its deadline still runs
                (Event.DEADLINE_REMINDER, Clock.CHECK_IN, True),  # met before: read now
                (Event.DEADLINE_REMINDER, "", True),  # read already: nothing reads its clock
                (Event.DEADLINE_BREACHED, "", False),
            ]
        )


def test_an_inbox_item_written_without_a_clock_as_the_release_before_wrote_them_is_stored():
    # During an upgrade the release still serving names no clock (its code knows none): the database's
    # default stands in.
    boss = manager()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_inboxitem (user_id, event, reference, message, created_at) "
            "VALUES (%s, 'referral.received', 'HBR-2026-000001', 'New referral: HBR-2026-000001', %s)",
            [boss.pk, timezone.now()],
        )
    assert InboxItem.objects.get(user=boss).clock == ""
