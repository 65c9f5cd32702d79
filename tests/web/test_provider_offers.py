"""A care provider's offers page: enough about each person to decide, warned of a bed it lacks, and no
identity before it accepts."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from referrals import services
from referrals.models import Clock, Referral
from referrals.wording import time_left_words
from tests.factories import (
    CareProviderFactory,
    manager,
    offered_with_a_note,
    provider_user,
    submitted_referral,
)
from tests.web.conftest import offered, placed, signed_in
from tests.web.test_case_actions import past_placement_rows

pytestmark = pytest.mark.django_db


def offer_rows(staff: User) -> list[str]:
    html = signed_in(staff).get(reverse("care_providers:offers")).content.decode()
    return html.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]


def row_of(rows: list[str], referral: Referral) -> str:
    [row] = [row for row in rows if f">{referral.reference}</a>" in row]
    return row


def test_the_offers_page_flags_an_offer_of_a_person_the_provider_has_no_free_bed_for():
    provider = CareProviderFactory(beds_men=1, beds_women=5)
    man, _, _ = offered(provider, gender="male")
    woman, _, _ = offered(provider, gender="female")
    staff = provider_user(provider)
    assert "No free bed" not in "".join(offer_rows(staff))

    placed(provider, gender="male")  # the one bed for men is taken

    rows = offer_rows(staff)
    assert '<span class="tag tag-urgent">No free bed for men</span>' in row_of(rows, man)
    assert "No free bed" not in row_of(rows, woman)
    assert 'data-label="Flags"' not in row_of(rows, woman), "no flags: no bare label on a phone"


def test_the_offers_page_shows_age_gender_and_the_bed_needed_but_not_who_the_person_is():
    provider = CareProviderFactory()
    referral, _, _ = offered(
        provider,
        gender="female",
        has_dependants=True,
        date_of_birth=datetime.date(1995, 3, 14),
        given_name="Amina",
        family_name="Haile",
        contact_phone="07700 900123",
    )
    row = row_of(offer_rows(provider_user(provider)), referral)
    today = timezone.localdate()
    age = today.year - 1995 - ((today.month, today.day) < (3, 14))
    assert f'<td data-label="Age">{age}</td>' in row
    assert '<td data-label="Gender">Female</td>' in row
    assert '<td data-label="Bed needed">Bed for a family</td>' in row
    for identity in ("Amina", "Haile", "1995", "14 Mar", "07700"):
        assert identity not in row


@pytest.mark.parametrize(
    ("fields", "age", "bed"),
    [
        ({"date_of_birth": None, "age_estimate": 30, "gender": "male"}, "About 30", "Bed for men"),
        ({"date_of_birth": None, "age_in_doubt": True}, "Child (in doubt)", "Bed for women"),
        ({"date_of_birth": None, "gender": "unknown"}, "Not known", "Bed for women"),
    ],
)
def test_the_offers_page_gives_an_estimated_or_unknown_age_in_words(fields, age, bed):
    provider = CareProviderFactory()
    referral, _, _ = offered(provider, **fields)
    row = row_of(offer_rows(provider_user(provider)), referral)
    assert f'<td data-label="Age">{age}</td>' in row
    assert f'<td data-label="Bed needed">{bed}</td>' in row


@pytest.mark.parametrize(
    ("fields", "needs"),
    [
        (
            {"languages": ["so", "ar"], "interpreter_needed": True, "needs_medical": True},
            "Speaks Somali, Arabic; needs an interpreter; needs medical care",
        ),
        ({"languages": ["en"], "interpreter_needed": False, "needs_medical": False}, "Speaks English"),
    ],
)
def test_the_offers_page_gives_the_persons_languages_and_needs_for_an_interpreter_or_medical_care(
    fields, needs
):
    # Whether its staff speak the person's language, and can get them to a doctor, is for the provider to
    # weigh as it answers each of its offers: from the list, not from each case page in turn.
    provider = CareProviderFactory()
    referral, _, _ = offered(provider, **fields)
    row = row_of(offer_rows(provider_user(provider)), referral)
    assert f'<td data-label="Needs">{needs}</td>' in row


def test_an_outreach_offer_needs_no_bed_and_is_never_flagged_for_one():
    provider = CareProviderFactory(beds_men=0, beds_women=0, beds_family=0)
    boss = manager()
    referral = submitted_referral(gender="male")
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    row = row_of(offer_rows(provider_user(provider)), referral)
    assert '<td data-label="Bed needed">None (outreach)</td>' in row
    assert "No free bed" not in row


def test_each_person_on_the_offers_page_is_an_audited_read():
    referral, provider, _ = offered()
    staff = provider_user(provider)
    offer_rows(staff)
    assert AuditEvent.objects.filter(
        referral=referral, actor=staff, action=AuditAction.READ, what="offers list"
    ).exists()


def test_answers_due_in_the_hour_the_clocks_go_back_say_which_of_the_two_they_are():
    provider = CareProviderFactory()
    first, _, _ = offered(provider)
    second, _, _ = offered(provider)
    # 01:30 on the night the clocks go back, then 01:30 again an hour later.
    first.offers.update(response_due_at=datetime.datetime(2099, 10, 25, 0, 30, tzinfo=datetime.UTC))
    second.offers.update(response_due_at=datetime.datetime(2099, 10, 25, 1, 30, tzinfo=datetime.UTC))
    rows = offer_rows(provider_user(provider))
    assert '<td data-label="Answer due">25 Oct 2099 01:30 BST (in ' in row_of(rows, first)
    assert '<td data-label="Answer due">25 Oct 2099 01:30 GMT (in ' in row_of(rows, second)


def test_the_offers_page_says_how_long_is_left_and_marks_an_offer_due_soon_once_its_reminder_went():
    provider = CareProviderFactory()
    waiting, soon, ran_out = offered(provider)[0], offered(provider)[0], offered(provider)[0]
    now = timezone.now()
    soon.deadlines.filter(clock=Clock.OFFER_RESPONSE).update(remind_at=now - datetime.timedelta(minutes=1))
    soon.offers.update(response_due_at=now + datetime.timedelta(minutes=25))
    ran_out.offers.update(response_due_at=now - datetime.timedelta(minutes=1))

    rows = offer_rows(provider_user(provider))
    assert re.search(r"\(in \d\shours?(, \d+\sminutes?)?\)", row_of(rows, waiting))
    assert re.search(r"\(in \d+\sminutes?\) <span class=\"tag tag-soon\">Due soon</span>", row_of(rows, soon))
    assert "Due soon" not in row_of(rows, waiting)
    assert '<span class="tag">Ran out</span>' in row_of(rows, ran_out)
    assert "(in " not in row_of(rows, ran_out) and "Due soon" not in row_of(rows, ran_out)


def test_an_offer_that_ran_out_is_not_flagged_to_be_rejected_or_waiting_for_a_bed():
    # It can no longer be answered (a rejection is refused: the offer ran out), so no flag asks for one.
    provider = CareProviderFactory(beds_men=1)
    cannot_take, _, _ = offered(provider, gender="male")
    waits, _, _ = offered(provider, gender="female")
    provider.beds_men, provider.beds_women = 0, 0  # no bed for men at all now, and none free for women
    provider.save()
    for referral in (cannot_take, waits):
        referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))

    rows = offer_rows(provider_user(provider))
    for referral in (cannot_take, waits):
        row = row_of(rows, referral)
        assert '<span class="tag">Ran out</span>' in row
        assert "reject it" not in row and "Cannot accept" not in row and "No free bed" not in row


def test_an_offer_due_within_the_minute_is_due_in_less_than_a_minute_not_in_0_minutes():
    provider = CareProviderFactory()
    referral, _, _ = offered(provider)
    referral.offers.update(response_due_at=timezone.now() + datetime.timedelta(seconds=30))
    assert "(in less than a minute)" in row_of(offer_rows(provider_user(provider)), referral)


@pytest.mark.parametrize(
    "left, words",
    [
        (datetime.timedelta(seconds=1), "less than a minute"),
        (datetime.timedelta(seconds=59), "less than a minute"),
        (datetime.timedelta(minutes=1), "1\xa0minute"),
        (datetime.timedelta(hours=2, minutes=5), "2\xa0hours, 5\xa0minutes"),
    ],
)
def test_the_time_left_reads_as_timeuntil_says_it_but_for_the_last_minute(left, words):
    now = datetime.datetime(2026, 3, 3, 6, 8, tzinfo=datetime.UTC)
    assert time_left_words(now + left, now) == words


def test_the_offers_page_says_how_many_beds_of_each_kind_are_free():
    provider = CareProviderFactory(beds_women=5, beds_men=1, beds_family=2)
    placed(provider, gender="male")
    html = signed_in(provider_user(provider)).get(reverse("care_providers:offers")).content.decode()
    assert "<p>Free beds now: 5 for women, 0 for men, 2 for a family.</p>" in html


def test_an_outreach_only_provider_is_told_of_no_beds():
    provider = CareProviderFactory(beds_women=0, beds_men=0, beds_family=0)
    html = signed_in(provider_user(provider)).get(reverse("care_providers:offers")).content.decode()
    assert "Free beds" not in html


def test_a_person_offered_again_to_the_provider_they_left_is_an_offer_not_a_past_placement():
    referral, staff, boss = placed()
    services.reallocate_referral(referral_id=referral.pk, actor=staff, reason="needs_changed")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=staff.provider.pk)
    assert [row for row in offer_rows(staff) if f">{referral.reference}</a>" in row]
    assert referral.reference not in past_placement_rows(signed_in(staff))


def test_the_offers_page_lists_emergencies_first_then_children_then_the_answer_due_soonest():
    provider = CareProviderFactory(supports_children=True)
    routine, _, _ = offered(provider)
    child, _, _ = offered(provider, date_of_birth=None, age_in_doubt=True)
    emergency, _, _ = offered(provider, emergency=True)
    later_routine, _, _ = offered(provider)
    # The routine offer made first is due first among the routine ones.
    later_routine.offers.update(
        response_due_at=routine.offers.get().response_due_at + datetime.timedelta(hours=1)
    )
    html = signed_in(provider_user(provider)).get(reverse("care_providers:offers")).content.decode()
    shown = re.findall(r">(HBR-[0-9-]+)</a>", html)
    assert shown == [emergency.reference, child.reference, routine.reference, later_routine.reference]
    assert "emergencies first, then children, then the answer due soonest" in html


def test_the_offers_page_shows_a_short_note_from_the_managers_and_sends_a_long_one_to_the_case_page():
    provider, boss = CareProviderFactory(), manager()
    noted = []
    for note in ("Do not contact the man at her old address.", "Trafficker knows the area. " * 10, ""):
        referral = submitted_referral()
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
        services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk, note=note)
        noted.append(referral)
    rows = offer_rows(provider_user(provider))
    assert "Do not contact the man at her old address." in row_of(rows, noted[0])
    long_row = row_of(rows, noted[1])
    assert "Trafficker" not in long_row and "read it on the case page before you answer" in long_row
    assert '<td data-label="Note from the managers">No note</td>' in row_of(rows, noted[2])


def test_the_offered_provider_reads_the_managers_note_on_the_case_page_before_and_after_it_accepts():
    provider, boss = CareProviderFactory(), manager()
    referral = submitted_referral()
    services.assess_referral(
        referral_id=referral.pk,
        actor=boss,
        risk="high",
        route="accommodation",
        notes="Managers only: see account",
    )
    services.offer_placement(
        referral_id=referral.pk,
        actor=boss,
        provider_id=provider.pk,
        note="Trafficker found her last address.",
    )
    staff = provider_user(provider)
    url = reverse("referrals:case", args=[referral.pk])
    for accepted in (False, True):
        html = signed_in(staff).get(url).content.decode()
        note = html.split('id="offer-note"')[1].split("</div>")[0]
        assert "Trafficker found her last address." in note
        assert "<h3>Note from the managers</h3>" in note
        # Once on the page: the history points to it rather than repeating a note of any length.
        history = html.split('id="history-title"')[1]
        assert "Trafficker" not in history
        assert "Note: shown above, under Note from the managers" in history
        # The assessment's notes were written for the managers, and may retell the account.
        assert "Managers only" not in html
        if not accepted:
            services.accept_offer(referral_id=referral.pk, actor=staff)


def test_the_accept_and_reject_pages_show_the_managers_note_to_the_provider_answering():
    provider, boss = CareProviderFactory(), manager()
    referral = offered_with_a_note(boss, provider, "Keep her away from the car wash.\nShe has a phone.")
    client = signed_in(provider_user(provider))
    for answer in ("accept", "reject"):
        url = reverse("referrals:case_action", args=[referral.pk, answer])
        html = client.get(url, follow=True).content.decode()
        note = html.split('id="offer-note"')[1].split("</div>")[0]
        assert "<h2>Note from the managers</h2>" in note
        assert "Keep her away from the car wash.<br>She has a phone." in note
