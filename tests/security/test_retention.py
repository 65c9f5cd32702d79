"""Retention: closed cases older than the period lose every personal field and keep their statistics."""

import dataclasses
import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from idempotency.models import IdempotencyRecord
from notifications.delivery import tell_managers_of_failure
from notifications.models import Channel, DeliveryState, Event, InboxItem, Notification
from notifications.services import notify, resend_failed
from referrals import services
from referrals.models import Referral, TransitionLog
from referrals.retention import apply_retention
from referrals.tasks import anonymise_closed_cases
from reports.selectors import ReportFilter, caseload_report
from tests.factories import CareProviderFactory, manager, offered_with_a_note, submitted_referral

pytestmark = pytest.mark.django_db


def closed_years_ago(years: float, **fields) -> Referral:
    referral = submitted_referral(**fields)
    services.decline_referral(
        referral_id=referral.pk, actor=manager(), reason="not_eligible", note="Haile's story did not fit"
    )
    closed = timezone.now() - datetime.timedelta(days=int(365.25 * years))
    Referral.objects.filter(pk=referral.pk).update(closed_at=closed, submitted_at=closed)
    return Referral.objects.get(pk=referral.pk)


def closed_cases_like(referral: Referral, count: int) -> None:
    """``count`` more cases closed when ``referral`` was, made in one insert (without a history)."""
    fields = {
        field.attname: getattr(referral, field.attname)
        for field in Referral._meta.concrete_fields
        if not field.primary_key
    }
    Referral.objects.bulk_create(
        [Referral(**{**fields, "reference": f"{referral.reference}-{n}"}) for n in range(count)]
    )


def anonymised() -> int:
    return Referral.objects.filter(anonymised_at__isnull=False).count()


def statistics() -> dict:
    report = dataclasses.asdict(caseload_report(ReportFilter()))
    keys = ["referrals", "open_cases", "nationalities", "genders", "regions", "age_groups", "outcomes"]
    return {key: report[key] for key in keys} | {"types": report["exploitation_types"]}


def test_retention_blanks_every_personal_field_of_old_closed_cases(capsys):
    old = closed_years_ago(7, aliases="Sara", crime_reference="CR/1")
    recent = closed_years_ago(1)
    for referral in (old, recent):  # an answer kept for a repeated Idempotency-Key shows the person
        IdempotencyRecord.objects.create(
            user=referral.submitted_by,
            key=f"k-{referral.pk}",
            request_fingerprint="f",
            response_status=201,
            response_body={"given_name": referral.given_name},
            referral=referral,
        )

    call_command("apply_retention")

    old = Referral.objects.get(pk=old.pk)
    assert (old.given_name, old.family_name, old.aliases, old.contact_phone, old.account) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert old.date_of_birth is None and old.name_digest == "" and old.birth_date_digest == ""
    assert old.crime_reference == "" and old.anonymised_at is not None
    assert list(IdempotencyRecord.objects.values_list("referral_id", flat=True)) == [recent.pk]
    assert (old.nationality, old.gender, old.region, old.state) == ("ER", "female", "london", "declined")
    decline = TransitionLog.objects.get(referral=old, transition="decline")
    assert decline.input == {"reason": "not_eligible"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT given_name, account FROM referrals_referral WHERE id = %s", [old.pk])
        assert cursor.fetchone() == ("", "")

    recent = Referral.objects.get(pk=recent.pk)
    assert recent.given_name == "Amina" and recent.anonymised_at is None
    assert "1 anonymised" in capsys.readouterr().out


def test_retention_blanks_the_age_estimate_which_dates_the_birth_as_the_date_of_birth_does():
    old = closed_years_ago(7, date_of_birth=None, age_estimate=27)
    recent = closed_years_ago(1, date_of_birth=None, age_estimate=16)
    before = statistics()

    apply_retention()

    old.refresh_from_db()
    assert (old.age_estimate, old.date_of_birth, old.is_child) == (None, None, False)
    assert Referral.objects.get(pk=recent.pk).age_estimate == 16
    assert statistics() == before  # adults and children are counted by is_child, which stays


def test_retention_blanks_the_managers_note_on_an_old_cases_offers():
    boss, provider = manager(), CareProviderFactory()
    referrals = []
    for years in (7, 1):
        referral = offered_with_a_note(boss, provider, "Trafficker knows Haile's address")
        services.withdraw_referral(referral_id=referral.pk, actor=boss, reason="referred_elsewhere")
        closed = timezone.now() - datetime.timedelta(days=int(365.25 * years))
        Referral.objects.filter(pk=referral.pk).update(closed_at=closed, submitted_at=closed)
        referrals.append(referral)
    old, recent = referrals

    apply_retention()

    assert old.offers.get().note == ""
    assert TransitionLog.objects.get(referral=old, transition="offer").input == {"provider": provider.pk}
    assert recent.offers.get().note == "Trafficker knows Haile's address"


def test_retention_removes_the_notices_that_date_the_persons_18th_birthday():
    cases = {years: closed_years_ago(years) for years in (7, 1)}
    for referral in cases.values():
        for event in (Event.PERSON_NOW_18, Event.REFERRAL_DECLINED):
            notify(
                event=event,
                organisations=[manager().organisation],
                referral_id=referral.pk,
                reference=referral.reference,
            )

    apply_retention()

    def events(referral: Referral) -> set[str]:
        told = Notification.objects.filter(referral=referral).values_list("event", flat=True)
        return set(told) | set(InboxItem.objects.filter(referral=referral).values_list("event", flat=True))

    assert Event.PERSON_NOW_18 not in events(cases[7])
    assert Event.REFERRAL_DECLINED in events(cases[7])
    assert Event.PERSON_NOW_18 in events(cases[1])


def test_retention_removes_the_managers_item_saying_the_now_18_notice_could_not_be_delivered():
    boss = manager()
    cases = {years: closed_years_ago(years) for years in (7, 1)}
    for referral in cases.values():
        (told, *_) = notify(
            event=Event.PERSON_NOW_18,
            organisations=[boss.organisation],
            referral_id=referral.pk,
            reference=referral.reference,
        )
        tell_managers_of_failure(told, reason="the receiver refused it (HTTP 401)")
        # Read, so that the next failure has an item of its own instead of being counted on this one.
        InboxItem.objects.filter(event=Event.DELIVERY_FAILED).update(read_at=timezone.now())

    apply_retention()

    def failures(referral: Referral) -> list[str]:
        items = InboxItem.objects.filter(user=boss, event=Event.DELIVERY_FAILED, reference=referral.reference)
        return list(items.values_list("message", flat=True))

    assert failures(cases[7]) == []
    assert [Event.PERSON_NOW_18.label in message for message in failures(cases[1])] == [True]


def test_the_trail_of_a_now_18_notice_sent_again_leaves_the_case_nothing_to_date_the_birthday_by():
    boss = manager()
    referral = submitted_referral()
    notify(
        event=Event.PERSON_NOW_18,
        organisations=[boss.organisation],
        referral_id=referral.pk,
        reference=referral.reference,
    )
    told = Notification.objects.get(referral=referral, event=Event.PERSON_NOW_18, channel=Channel.EMAIL)
    Notification.objects.filter(pk=told.pk).update(state=DeliveryState.FAILED)
    resend_failed(actor=boss, notification_id=told.pk)
    services.decline_referral(referral_id=referral.pk, actor=boss, reason="not_eligible")
    Referral.objects.filter(pk=referral.pk).update(closed_at=timezone.now() - datetime.timedelta(days=3000))

    apply_retention()  # which cannot take anything out of the append-only trail

    assert AuditEvent.objects.filter(actor=boss, what="notification sent again: referral.now_18 by email")
    assert not [event.what for event in referral.audit_events.all() if Event.PERSON_NOW_18 in event.what]


def test_a_dry_run_reports_the_counts_and_changes_nothing(capsys):
    old = closed_years_ago(7)
    call_command("apply_retention", "--dry-run")
    out = capsys.readouterr().out
    assert "1 would be anonymised" in out and "Dry run" in out
    assert Referral.objects.get(pk=old.pk).given_name == "Amina"
    assert not AuditEvent.objects.filter(action=AuditAction.RETENTION).exists()


def test_older_than_days_overrides_the_period_and_open_cases_are_never_touched():
    closed = closed_years_ago(0.1)
    still_open = submitted_referral()
    Referral.objects.filter(pk=still_open.pk).update(
        submitted_at=timezone.now() - datetime.timedelta(days=4000)
    )
    call_command("apply_retention", "--older-than-days", "30")
    assert Referral.objects.get(pk=closed.pk).given_name == ""
    assert Referral.objects.get(pk=still_open.pk).given_name == "Amina"


def test_retention_is_audited_with_counts_only():
    closed_years_ago(7)
    call_command("apply_retention")
    event = AuditEvent.objects.get(action=AuditAction.RETENTION)
    assert event.changes["referrals"] == 1 and event.changes["transition_entries"] == 2
    assert event.actor is None


def test_running_retention_twice_anonymises_nothing_more(capsys):
    closed_years_ago(7)
    call_command("apply_retention")
    capsys.readouterr()
    call_command("apply_retention")
    assert ": 0 anonymised" in capsys.readouterr().out


def test_the_caseload_report_counts_anonymised_cases_as_before():
    closed_years_ago(7, nationality="VN", gender="male", region="wales")
    closed_years_ago(8, nationality="AL", exploitation_types=["sexual", "criminal"])
    submitted_referral(nationality="VN")
    before = statistics()
    call_command("apply_retention")
    assert Referral.objects.filter(anonymised_at__isnull=False).count() == 2
    assert statistics() == before


def test_an_anonymised_case_still_opens_on_the_web_saying_its_details_were_removed(client):
    old = closed_years_ago(7)
    call_command("apply_retention")
    boss = manager()
    client.force_login(boss)
    page = client.get(reverse("referrals:case", args=[old.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "were removed on" in html and "under the retention policy" in html
    assert "<dd>Removed under the retention policy</dd>" in html
    assert client.get(reverse("referral-audit", args=[old.pk])).status_code == 200
    assert client.get(reverse("referrals:case_list")).status_code == 200


def test_an_anonymised_case_reads_through_the_api_with_blank_personal_fields():
    from rest_framework.test import APIClient

    old = closed_years_ago(7)
    call_command("apply_retention")
    api = APIClient()
    api.force_authenticate(manager())
    detail = api.get(f"/api/v1/referrals/{old.pk}/")
    assert detail.status_code == 200
    assert (detail.json()["given_name"], detail.json()["family_name"]) == ("", "")
    assert detail.json().get("date_of_birth") is None
    history = api.get(f"/api/v1/referrals/{old.pk}/history/")
    assert history.status_code == 200
    assert "Haile" not in history.content.decode()
    assert api.get("/api/v1/referrals/").status_code == 200


def test_the_policy_is_applied_hourly_by_beat_without_anyone_running_the_command(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["referrals.tasks.anonymise_closed_cases"] == 3600
    old, recent = closed_years_ago(7), closed_years_ago(1)
    assert anonymise_closed_cases() == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.anonymised_at is not None and recent.anonymised_at is None


def test_a_beat_run_stops_after_its_batches_and_the_next_run_goes_on_from_there(settings):
    settings.RETENTION_BATCHES_PER_RUN = 1
    closed_cases_like(closed_years_ago(7), 500)  # 501 due: one batch of 500 and one left over

    assert anonymise_closed_cases() == 500
    assert anonymised() == 500
    assert anonymise_closed_cases() == 1
    assert anonymised() == 501
    assert anonymise_closed_cases() == 0
    runs = AuditEvent.objects.filter(action=AuditAction.RETENTION).order_by("pk")
    assert [event.changes["referrals"] for event in runs] == [500, 1]  # a run with nothing to do is not


def test_the_command_goes_on_batch_after_batch_until_no_case_is_due(settings, capsys):
    settings.RETENTION_BATCHES_PER_RUN = 1  # beat's budget, not the operator's
    closed_cases_like(closed_years_ago(7), 500)
    call_command("apply_retention")
    assert ": 501 anonymised" in capsys.readouterr().out
    assert anonymised() == 501


def test_a_batch_costs_the_same_queries_for_one_case_as_for_many_with_long_histories():
    boss = manager()
    closed_years_ago(7)
    with CaptureQueriesContext(connection) as one:
        assert apply_retention(max_batches=1).referrals == 1
    for _ in range(3):
        referral = closed_years_ago(7)
        for n in range(5):
            TransitionLog.objects.create(
                referral=referral,
                transition="record_progress",
                from_state="placed",
                to_state="placed",
                actor=boss,
                input={"note": f"Haile's week {n}", "next_check_in": "2019-01-01"},
            )
    with CaptureQueriesContext(connection) as many:
        result = apply_retention(max_batches=1)
    assert (result.referrals, result.transition_entries) == (3, 21)
    assert len(many) == len(one)
    assert all(
        entry.input == {"next_check_in": "2019-01-01"}
        for entry in TransitionLog.objects.filter(transition="record_progress")
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_passes_over_a_case_another_transaction_holds_and_the_next_run_takes_it():
    held, free = closed_years_ago(7), closed_years_ago(7)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # a service, or a second sweeper, holding the case
        try:
            with transaction.atomic():
                Referral.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait()
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait()
    try:
        with connection.cursor() as cursor:  # waiting for the lock fails the test instead of hanging it
            cursor.execute("SET lock_timeout = '20s'")
        first = apply_retention()
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert first.referrals == 1
    assert Referral.objects.get(pk=free.pk).anonymised_at is not None
    assert Referral.objects.get(pk=held.pk).anonymised_at is None
    assert apply_retention().referrals == 1
    assert Referral.objects.get(pk=held.pk).given_name == ""


def test_retention_blanks_a_childs_local_authority_and_the_contact_there():
    old = closed_years_ago(
        7,
        age_in_doubt=True,
        local_authority="Kent County Council",
        local_authority_contact="Duty social worker, 01632 960777",
    )
    recent = closed_years_ago(
        1, age_in_doubt=True, local_authority="Kent County Council", local_authority_contact="Duty team"
    )

    call_command("apply_retention")

    old = Referral.objects.get(pk=old.pk)
    assert (old.local_authority, old.local_authority_contact, old.is_child) == ("", "", True)
    recent = Referral.objects.get(pk=recent.pk)
    assert (recent.local_authority, recent.local_authority_contact) == ("Kent County Council", "Duty team")
