"""Marking a missing person found on the web: the check-in it leaves them with, said before and after."""

import datetime
from html import escape

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from referrals import services
from referrals.choices import ReferralState
from referrals.deadlines import CHECK_IN_TIME, add_calendar_days
from referrals.forms import FoundForm, check_in_after_found_rule
from referrals.local_time import local_time
from referrals.models import Clock, Referral
from tests.web.conftest import assert_field_error_reported, placed, signed_in
from tests.web.test_case_actions import act, action_url, messages_in_the_cookie

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
FIELD = "found-next_check_in"


def missing_with_check_in_on(day: datetime.date):
    """Placed, a progress note setting the next check-in for ``day``, then reported missing."""
    referral, staff, boss = placed()
    services.record_progress(referral_id=referral.pk, actor=staff, note="Settling in", next_check_in=day)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    return referral, staff, boss


def at_check_in_time(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, CHECK_IN_TIME))


def running_check_in_due(referral: Referral) -> datetime.datetime:
    return referral.deadlines.get(clock=Clock.CHECK_IN, stopped_at__isnull=True).due_at


def found_history_row(html: str) -> str:
    history = html.split('id="history-title"')[1].split("</tbody>")[0]
    (row,) = [row for row in history.split("</tr>") if "Recorded as found" in row]
    return row


def test_the_provider_marks_them_found_and_keeps_the_check_in_it_set_and_is_told_when_it_is_due():
    chosen = timezone.localdate() + 2 * DAY
    referral, staff, _boss = missing_with_check_in_on(chosen)
    client = signed_in(staff)
    due = local_time(at_check_in_time(chosen), "%H:%M on %-d %B")
    form = client.get(action_url(referral, "found"), follow=True).content.decode()
    assert escape(f"Leave empty to keep the check-in set before they went missing, due {due}.") in form
    response = act(client, referral, "found", {"found-note": "Back at the house."})
    assert response.status_code == 302
    assert messages_in_the_cookie(client) == [
        f"{referral.reference}: Marked as found. Next check-in due {due}."
    ]
    assert running_check_in_due(referral) == at_check_in_time(chosen)
    page = client.get(response["Location"]).content.decode()
    row = found_history_row(page)
    assert f"Next check-in due: {local_time(at_check_in_time(chosen), '%-d %B %Y %H:%M')}" in row


def test_a_check_in_that_fell_due_while_they_were_missing_gives_way_to_the_usual_interval():
    referral, staff, boss = missing_with_check_in_on(timezone.localdate() + 2 * DAY)
    referral.deadlines.filter(clock=Clock.CHECK_IN).update(due_at=timezone.now() - DAY)
    client = signed_in(boss)
    # The case page's form in place gives the rule; the action's own page the time it comes to.
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert escape(check_in_after_found_rule()) in case_page
    form = client.get(action_url(referral, "found"), follow=True).content.decode()
    assert "Leave empty for the usual interval: due " in form
    before = timezone.now()
    assert act(client, referral, "found", {}).status_code == 302
    due = running_check_in_due(referral)
    # Calendar days at the same local time: 6 days 23 hours across the spring clock change.
    days = settings.DEADLINE_CHECK_IN_DAYS
    assert add_calendar_days(before, days) <= due <= add_calendar_days(timezone.now(), days)
    (message,) = messages_in_the_cookie(client)
    assert message.endswith(f"Next check-in due {local_time(due, '%H:%M on %-d %B')}.")


def test_the_case_pages_found_form_keeps_a_check_in_set_before_only_if_within_the_usual_interval(settings):
    """It does not read the check-in set before they went missing, so it gives the rule, the whole rule:
    one set further off than the usual interval comes forward to it."""
    settings.DEADLINE_CHECK_IN_DAYS = 10
    referral, _staff, boss = missing_with_check_in_on(timezone.localdate() + 2 * DAY)
    case_page = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert (
        "Leave empty to keep the check-in set before they went missing if it is still ahead and within the "
        "usual 10\xa0days; otherwise it falls due 10\xa0days from now."
    ) in case_page


def test_a_next_check_in_chosen_on_the_found_form_wins_and_the_history_says_it_once():
    referral, staff, _boss = missing_with_check_in_on(timezone.localdate() + 2 * DAY)
    chosen = timezone.localdate() + 4 * DAY
    client = signed_in(staff)
    response = act(client, referral, "found", {FIELD: chosen.isoformat()})
    assert response.status_code == 302
    assert running_check_in_due(referral) == at_check_in_time(chosen)
    row = found_history_row(client.get(response["Location"]).content.decode())
    assert "Next check-in due: " in row and "Next check in:" not in row


def test_a_next_check_in_already_past_is_refused_on_its_field_and_they_stay_missing():
    referral, staff, _boss = missing_with_check_in_on(timezone.localdate() + 2 * DAY)
    yesterday = timezone.localdate() - DAY
    response = act(signed_in(staff), referral, "found", {FIELD: yesterday.isoformat()})
    assert response.status_code == 400
    (message,) = FoundForm({FIELD: yesterday.isoformat()}, prefix="found").errors["next_check_in"]
    assert message.startswith("Choose a next check-in from")
    html = response.content.decode()
    hint = html.split('id="id_found-next_check_in_helptext"')[1].split(">", 1)[1].split("<")[0]
    assert_field_error_reported(html, field_id="id_found-next_check_in", hint=hint, message=message)
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING


def test_a_person_reallocated_while_missing_is_marked_found_with_no_check_in_to_choose():
    referral, staff, boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="safety_concern")
    client = signed_in(boss)
    for page in (reverse("referrals:case", args=[referral.pk]), action_url(referral, "found")):
        html = client.get(page, follow=True).content.decode()
        assert 'id="action-found"' in html or 'name="found-note"' in html
        assert f'name="{FIELD}"' not in html
    # Sent from a page shown before the reallocation: refused on its field, not dropped unsaid.
    sent = act(client, referral, "found", {FIELD: (timezone.localdate() + DAY).isoformat()})
    assert sent.status_code == 400
    assert escape(services.NO_CHECK_IN_WITHOUT_PLACEMENT) in sent.content.decode()
    assert referral.still_missing()
    assert act(client, referral, "found", {}).status_code == 302
    assert messages_in_the_cookie(client)[-1] == f"{referral.reference}: Marked as found."
