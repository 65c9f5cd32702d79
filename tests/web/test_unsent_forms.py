"""A case action or anonymous notification sent after the session ended: what was typed comes back to
the same user, on the same form, once they sign in again; to nobody else; and nothing is performed."""

import datetime
import re
import secrets
import time
from unittest import mock
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.authentication import end_sign_ins
from accounts.sessions import BROWSER_KEY_COOKIE
from audit.models import AuditAction, AuditEvent
from referrals import services
from referrals.choices import ReferralState
from referrals.local_time import local_time
from referrals.models import AnonymousNotification, ReferralDraft, TransitionLog, UnsentForm
from referrals.tasks import purge_expired_unsent_forms
from referrals.unsent_forms import keep_unsent_form, owner_token
from tests.factories import PASSWORD, manager, provider_user, responder, submitted_referral
from tests.security.test_encryption import raw_row
from tests.web.conftest import DUTY_LINE, offered, placed, session_lapses, signed_in
from tests.web.test_case_actions import CONCERN, already_accepted, assert_rejection_shown_again

pytestmark = pytest.mark.django_db

NOTE = "Told us tonight that her former employer has been calling her sister."
SIGNED_OUT = "Nothing was sent: sign in again within 60 minutes to see what you typed."
SHOWN_AGAIN = (
    "You were signed out before this was sent, so nothing was recorded. What you typed is below; "
    "check it and send it again."
)
EXPIRED = (
    "What you typed was kept for 60 minutes and has been deleted, so nothing was recorded: fill in the "
    "form again."
)


def action_url(referral, transition: str) -> str:
    return reverse("referrals:case_action", args=[referral.pk, transition])


def owner_field(html: str) -> str:
    return re.search(r'name="owner" value="([^"]+)"', html)[1]


def sign_in(client: Client, user, next_url: str):
    """The sign-in form, as the page the session ended on sent the user there."""
    return client.post(
        reverse("login"), {"username": user.username, "password": PASSWORD, "next": next_url}, follow=True
    )


def progress_notes(referral) -> int:
    return TransitionLog.objects.filter(referral=referral, transition="record_progress").count()


def next_of(response) -> str:
    """Where the sign-in page a response sent the user to takes them once signed in."""
    return parse_qs(urlsplit(response["Location"]).query)["next"][0]


def sent_after_the_session_ended(user, referral, transition: str, data: dict):
    """The user opens the action's form signed in, the session ends, and they send it (``data``): their
    client, the form's address and the answer."""
    client = signed_in(user)
    url = action_url(referral, transition)
    owner = owner_field(client.get(url, follow=True).content.decode())
    session_lapses(client)
    return client, url, client.post(url, {"owner": owner, **data})


def progress_sent_after_the_session_ended(note: str = NOTE):
    """A provider opens the progress form, the session ends, and they press Save progress note."""
    referral, staff, _ = placed()
    client, url, response = sent_after_the_session_ended(
        staff,
        referral,
        "record_progress",
        {"record_progress-note": note, "record_progress-next_check_in": ""},
    )
    return referral, staff, client, url, response


def test_a_progress_note_sent_after_the_session_ended_comes_back_to_its_author_after_sign_in():
    referral, staff, client, url, response = progress_sent_after_the_session_ended()
    assert response.status_code == 302
    kept_until = f"{UnsentForm.objects.get().expires_at.timestamp():.0f}"
    assert response["Location"] == f"{reverse('login')}?next={quote(f'{url}?kept_until={kept_until}')}"
    told = client.get(response["Location"]).content.decode()
    assert SIGNED_OUT in told and "You were signed out after 30 minutes without activity." in told

    page = sign_in(client, staff, next_of(response))
    html = page.content.decode()
    assert page.redirect_chain[-1][0].startswith(f"{url}?kept_until={kept_until}&form=")
    assert SHOWN_AGAIN in html
    assert f"{NOTE}</textarea>" in html
    # Shown to be checked and sent again, never sent for them: the case may have changed meanwhile.
    assert progress_notes(referral) == 0
    assert not UnsentForm.objects.exists()  # deleted once shown
    again = client.get(next_of(response), follow=True).content.decode()  # reloaded: shown once, not expired
    assert NOTE not in again and SHOWN_AGAIN not in again and EXPIRED not in again


def test_what_is_kept_is_encrypted_short_lived_and_in_no_url_or_audit_row():
    referral, staff, _, url, response = progress_sent_after_the_session_ended()
    unsent = UnsentForm.objects.get()
    assert (unsent.owner, unsent.form) == (staff, url)
    assert unsent.data == {"record_progress-note": [NOTE]}
    lifetime = unsent.expires_at - timezone.now()
    assert datetime.timedelta(minutes=59) < lifetime <= datetime.timedelta(minutes=60)
    assert "former employer" not in raw_row("referrals_unsentform", unsent.pk, "data")[0]
    assert "employer" not in response["Location"]
    kept = AuditEvent.objects.get(what=f"unsent form {unsent.pk}: kept from a lapsed session")
    assert (kept.actor, kept.referral) == (staff, referral)  # on the case's own trail too
    assert kept.changes == {"form": url, "fields": ["record_progress-note"]}
    assert not [event for event in AuditEvent.objects.all() if "employer" in str(event.changes)]


def test_a_form_sent_after_a_password_change_elsewhere_keeps_nothing_and_says_why_the_session_ended():
    referral, staff, _ = placed()
    client = signed_in(staff)
    url = action_url(referral, "record_progress")
    owner = owner_field(client.get(url, follow=True).content.decode())
    staff.set_password("harbour-renewed-password-2026")
    staff.save()
    response = client.post(url, {"owner": owner, "record_progress-note": NOTE})
    assert not UnsentForm.objects.exists()  # the new password voids the form's owner
    page = client.get(response["Location"]).content.decode()
    assert "because your password or sign-in settings were changed" in page
    assert "Nothing was sent or kept." in page
    assert SIGNED_OUT not in page and "without activity" not in page


def test_someone_else_signing_in_on_that_browser_gets_nothing():
    referral, staff, client, url, _ = progress_sent_after_the_session_ended()
    colleague = provider_user(staff.provider)  # may record progress on the same case
    html = sign_in(client, colleague, url).content.decode()
    assert 'name="record_progress-note"' in html
    assert NOTE not in html and SHOWN_AGAIN not in html
    assert UnsentForm.objects.filter(owner=staff).exists()  # still the author's, for a few minutes


def test_what_was_kept_is_not_shown_once_it_has_expired_and_the_purge_deletes_it():
    referral, staff, client, url, _ = progress_sent_after_the_session_ended()
    expired = timezone.now() - datetime.timedelta(seconds=1)
    UnsentForm.objects.update(expires_at=expired)
    # Signing in too late, by the address the sign-in page was given: it says until when it was kept.
    html = sign_in(client, staff, f"{url}?kept_until={expired.timestamp():.0f}").content.decode()
    assert NOTE not in html and SHOWN_AGAIN not in html
    assert EXPIRED in html  # said on the form, rather than an empty form and no word why
    assert purge_expired_unsent_forms() == 1
    assert not UnsentForm.objects.exists()


def test_a_user_locked_out_for_mistyping_their_password_gets_what_they_typed_back_after_the_lockout():
    referral, staff, client, url, response = progress_sent_after_the_session_ended()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"), {"username": staff.username, "password": "not it", "next": next_of(response)}
        )
    assert sign_in(client, staff, next_of(response)).status_code == 429  # the right password, too soon
    # The lockout runs its course: the failures and what was kept, as they are when it has.
    later = settings.AXES_COOLOFF_TIME + datetime.timedelta(minutes=1)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - later)
    UnsentForm.objects.update(expires_at=F("expires_at") - later)
    html = sign_in(client, staff, next_of(response)).content.decode()
    assert SHOWN_AGAIN in html and f"{NOTE}</textarea>" in html
    assert progress_notes(referral) == 0


def a_day_ago(token_of):
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 86_401):
        return token_of()


@pytest.mark.parametrize(
    "case",
    [
        "",
        "forged",
        "tampered",
        "expired",
        "for another case",
        "for a former user",
        "from another browser",
        "after a password change",
        "after signing out everywhere",
        "after signing out there",
    ],
)
def test_without_a_valid_owner_signature_a_form_sent_after_the_session_ended_keeps_nothing(case):
    referral, staff, _ = placed()
    other, *_ = placed(staff.provider)
    url = action_url(referral, "record_progress")
    client = signed_in(staff)
    client.get(url, follow=True)  # the form, shown in this browser
    key = client.cookies[BROWSER_KEY_COOKIE].value
    token = owner_token(staff, url, key)
    owner = {
        "tampered": token[:-2] + ("aa" if not token.endswith("aa") else "bb"),
        "expired": a_day_ago(lambda: owner_token(staff, url, key)),
        "for another case": owner_token(staff, action_url(other, "record_progress"), key),
        "for a former user": owner_token(provider_user(staff.provider, is_active=False), url, key),
        "from another browser": owner_token(staff, url, secrets.token_urlsafe(32)),
        "after signing out there": token,
        "after a password change": token,
        "after signing out everywhere": token,
    }.get(case, case)
    if case == "after a password change":
        staff.set_password("harbour-renewed-password-2026")
        staff.save()
    if case == "after signing out everywhere":
        end_sign_ins(staff, why="signed out everywhere")
    if case == "after signing out there":
        client.post(reverse("logout"))
    session_lapses(client)
    response = client.post(url, {"owner": owner, "record_progress-note": NOTE})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(url)}"
    assert not UnsentForm.objects.exists()
    html = sign_in(client, staff, url).content.decode()
    assert NOTE not in html and SIGNED_OUT not in html and SHOWN_AGAIN not in html


def test_a_copied_owner_value_keeps_nothing_for_a_browser_that_never_signed_in():
    referral, staff, _ = placed()
    client = signed_in(staff)
    url = action_url(referral, "record_progress")
    owner = owner_field(client.get(url, follow=True).content.decode())
    stranger = Client()
    stranger.get(reverse("login"))  # a session cookie of its own, as any visitor has
    response = stranger.post(url, {"owner": owner, "record_progress-note": "Planted"})
    assert response["Location"] == f"{reverse('login')}?next={quote(url)}"
    assert not UnsentForm.objects.exists()


@pytest.mark.parametrize("second_press", ["before the first answer came back", "after it"])
def test_pressing_the_button_twice_after_the_session_ended_keeps_both_notes_the_last_shown_first(
    second_press,
):
    referral, staff, _ = placed()
    client = signed_in(staff)
    url = action_url(referral, "record_progress")
    owner = owner_field(client.get(url, follow=True).content.decode())
    cookies_sent = {name: cookie.value for name, cookie in client.cookies.items()}
    session_lapses(client)
    for note in ("First go", NOTE):
        if second_press == "before the first answer came back":
            for name, value in cookies_sent.items():  # the first answer's cookies are not in yet
                client.cookies[name] = value
        client.post(url, {"owner": owner, "record_progress-note": note})
    assert sorted(unsent.data["record_progress-note"][0] for unsent in UnsentForm.objects.all()) == sorted(
        ["First go", NOTE]
    )
    assert f"{NOTE}</textarea>" in sign_in(client, staff, url).content.decode()
    assert "First go</textarea>" in client.get(url, follow=True).content.decode()
    assert not UnsentForm.objects.exists()


def test_two_forms_open_in_two_tabs_and_sent_after_the_session_ended_are_both_kept():
    referral, staff, _ = placed()
    other, *_ = placed(staff.provider)
    client = signed_in(staff)
    tabs = [
        (action_url(case, "record_progress"), note) for case, note in ((referral, NOTE), (other, "Other"))
    ]
    owners = [owner_field(client.get(url, follow=True).content.decode()) for url, _ in tabs]
    session_lapses(client)
    for (url, note), owner in zip(tabs, owners, strict=True):
        response = client.post(url, {"owner": owner, "record_progress-note": note})
        assert "?kept_until=" in next_of(response)
        assert SIGNED_OUT in client.get(response["Location"]).content.decode()
    assert (
        settings.SESSION_COOKIE_NAME not in client.cookies
        or not client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    (first_url, first_note), (second_url, second_note) = tabs
    assert f"{first_note}</textarea>" in sign_in(client, staff, first_url).content.decode()
    assert f"{second_note}</textarea>" in client.get(second_url, follow=True).content.decode()
    assert progress_notes(referral) == progress_notes(other) == 0


def test_the_browser_key_is_given_at_sign_in_in_a_cookie_of_its_own_and_taken_back_at_sign_out():
    staff = provider_user()
    client = Client()
    signed = client.post(reverse("login"), {"username": staff.username, "password": PASSWORD})
    cookie = signed.cookies[BROWSER_KEY_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == ""  # till closed
    assert cookie["secure"] == (True if settings.SESSION_COOKIE_SECURE else "")
    again = Client().post(reverse("login"), {"username": staff.username, "password": PASSWORD})
    assert again.cookies[BROWSER_KEY_COOKIE].value != cookie.value  # one of its own for each sign-in
    assert client.post(reverse("logout")).cookies[BROWSER_KEY_COOKIE].value == ""


def test_a_form_with_nothing_typed_keeps_nothing():
    referral, staff, _ = placed()
    url = action_url(referral, "record_progress")
    client = signed_in(staff)
    owner = owner_field(client.get(url, follow=True).content.decode())
    session_lapses(client)
    client.post(url, {"owner": owner, "record_progress-note": "  "})
    assert not UnsentForm.objects.exists()


def test_a_managers_decline_comes_back_with_its_reason_chosen_and_its_note():
    referral = submitted_referral()
    boss = manager()
    client = signed_in(boss)
    url = action_url(referral, "decline")
    owner = owner_field(client.get(url, follow=True).content.decode())
    session_lapses(client)
    client.post(url, {"owner": owner, "decline-reason": "duplicate", "decline-note": "Same as the March one"})
    html = sign_in(client, boss, url).content.decode()
    assert SHOWN_AGAIN in html
    assert '<option value="duplicate" selected>' in html
    assert "Same as the March one</textarea>" in html
    referral.refresh_from_db()
    assert referral.state == ReferralState.RECEIVED


def test_a_note_sent_from_the_form_on_the_case_page_comes_back_on_its_action_page():
    referral, staff, _ = placed()
    client = signed_in(staff)
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    form = case_page[case_page.index('id="action-record_progress"') :]
    session_lapses(client)
    url = action_url(referral, "record_progress")
    client.post(url, {"owner": owner_field(form), "record_progress-note": NOTE})
    html = sign_in(client, staff, url).content.decode()
    assert SHOWN_AGAIN in html and f"{NOTE}</textarea>" in html
    assert progress_notes(referral) == 0


def assert_kept_note_refused(page, url: str, *, saying: str) -> str:
    """Signed in again, the user is on the form, refused (409, ``saying``), with the note as they typed
    it; nothing is kept any more. The page, to check further."""
    assert page.redirect_chain[-1][0].startswith(f"{url}?kept_until=")
    assert page.status_code == 409
    html = page.content.decode()
    assert saying in html
    assert f"{NOTE}</textarea>" in html
    assert "is not kept" not in html
    assert not UnsentForm.objects.exists()
    assert AuditEvent.objects.filter(what__endswith="shown again on its form").exists()
    return html


def test_a_note_kept_after_the_session_ended_comes_back_refused_if_the_action_closed_before_sign_in():
    referral, staff, client, url, response = progress_sent_after_the_session_ended()
    colleague = provider_user(staff.provider)
    services.report_missing(referral_id=referral.pk, actor=colleague, last_seen_at=timezone.now())
    html = assert_kept_note_refused(
        sign_in(client, staff, next_of(response)),
        url,
        saying="Your progress note was not recorded. This person has already been reported missing.",
    )
    # No progress note can be written while the person is missing.
    assert f"copy it and phone it to the managers on {DUTY_LINE}" in html
    assert progress_notes(referral) == 0


def managers_form_sent_after_the_session_ended(transition: str, data: dict):
    """A manager opens an action on a new referral, the session ends, and they send it (``data``): the
    referral, the manager, their client, the form's address and the answer."""
    referral = submitted_referral()
    boss = manager()
    client, url, response = sent_after_the_session_ended(boss, referral, transition, data)
    return referral, boss, client, url, response


def test_a_managers_assessment_notes_kept_after_the_session_ended_come_back_refused_if_a_colleague_declined():
    referral, boss, client, url, response = managers_form_sent_after_the_session_ended(
        "assess", {"assess-risk": "high", "assess-route": "accommodation", "assess-notes": NOTE}
    )
    services.decline_referral(referral_id=referral.pk, actor=manager(), reason="duplicate")
    assert_kept_note_refused(
        sign_in(client, boss, next_of(response)),
        url,
        saying="Your assessment was not recorded. This referral has already been declined.",
    )
    referral.refresh_from_db()
    assert referral.state == ReferralState.DECLINED


def test_if_the_action_closed_before_sign_in_choices_alone_are_dropped_and_the_user_told():
    referral, boss, client, url, response = managers_form_sent_after_the_session_ended(
        "decline", {"decline-reason": "duplicate"}
    )
    services.assess_referral(referral_id=referral.pk, actor=manager(), risk="low", route="outreach")
    page = sign_in(client, boss, next_of(response))
    html = page.content.decode()
    assert page.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert "What you typed before you were signed out was not sent, and is not kept." in html
    assert 'id="action-decline"' not in html
    assert not UnsentForm.objects.exists()
    assert not referral.transitions.filter(transition="decline").exists()
    # Deleted, not read: the trail says so, on the case.
    dropped = AuditEvent.objects.get(what__endswith="deleted unseen, its action having closed")
    assert (dropped.action, dropped.referral) == (AuditAction.CHANGE, referral)
    assert not AuditEvent.objects.filter(what__endswith="shown again on its form").exists()


def test_a_note_kept_after_the_session_ended_comes_back_refused_if_the_case_was_reallocated_before_sign_in():
    referral, staff, client, url, response = progress_sent_after_the_session_ended()
    services.reallocate_referral(referral_id=referral.pk, actor=manager(), reason="needs_changed")
    # Not on the offers page, saying it is lost: on the form, refused, with the note.
    assert_kept_note_refused(
        sign_in(client, staff, next_of(response)),
        url,
        saying="Your progress note was not recorded. This person is no longer placed with you.",
    )
    assert progress_notes(referral) == 0


def rejection_sent_after_the_session_ended(data: dict):
    """An offer's rejection, opened signed in and sent (``data``) once the session had ended: the
    referral, its provider, the caseworker, their client, the form's address and the answer."""
    referral, provider, _boss = offered()
    staff = provider_user(provider)
    client, url, response = sent_after_the_session_ended(staff, referral, "reject", data)
    return referral, provider, staff, client, url, response


@pytest.mark.parametrize("meanwhile", ["ran out", "expired by the sweep", "colleague accepted"])
def test_a_rejection_note_kept_after_the_session_ended_comes_back_refused_if_the_offer_closed_before_sign_in(
    meanwhile,
):
    referral, provider, staff, client, url, response = rejection_sent_after_the_session_ended(
        {"reject-reason": "safety_concern", "reject-note": CONCERN}
    )
    offer = referral.offers.get()
    if meanwhile == "colleague accepted":
        colleague = provider_user(provider)
        services.accept_offer(referral_id=referral.pk, actor=colleague)
        saying = already_accepted(referral, colleague)
    else:
        offer.response_due_at = timezone.now() - datetime.timedelta(minutes=1)
        offer.save(update_fields=["response_due_at"])
        saying = services.offer_ran_out(offer).message
        if meanwhile == "expired by the sweep":  # the case is out of the provider's sight
            services.expire_offer(offer_id=offer.pk)
    page = sign_in(client, staff, next_of(response))
    # Not on the case page or the offers page, saying it is lost: on the form, refused, with the note.
    assert page.redirect_chain[-1][0].startswith(f"{url}?kept_until=")
    assert_rejection_shown_again(page, saying=saying)
    assert "is not kept" not in page.content.decode()
    assert not UnsentForm.objects.exists()
    assert AuditEvent.objects.filter(what__endswith="shown again on its form").exists()
    assert not referral.transitions.filter(transition="reject").exists()


def test_a_rejection_without_a_note_kept_for_an_offer_the_sweep_expired_is_dropped_and_the_provider_told():
    referral, _provider, staff, client, _url, response = rejection_sent_after_the_session_ended(
        {"reject-reason": "no_capacity"}
    )
    referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    services.expire_offer(offer_id=referral.offers.get().pk)
    page = sign_in(client, staff, next_of(response))
    assert page.redirect_chain[-1][0] == reverse("care_providers:offers")
    html = page.content.decode()
    due = local_time(referral.offers.get().response_due_at, "%H:%M on %-d %B %Y")
    assert f"{referral.reference}: this offer ran out unanswered at {due};" in html
    assert "What you typed before you were signed out was not sent, and is not kept." in html
    assert not UnsentForm.objects.exists()


def test_an_anonymous_notification_comes_back_with_its_choices_ticked():
    user = responder()
    client = signed_in(user)
    url = reverse("referrals:anonymous_notification")
    owner = owner_field(client.get(url, follow=True).content.decode())
    session_lapses(client)
    client.post(
        url,
        {
            "owner": owner,
            "gender": "female",
            "nationality": "ER",
            "exploitation_types": ["labour", "sexual"],
            "region": "london",
        },
    )
    html = sign_in(client, user, url).content.decode()
    assert SHOWN_AGAIN in html
    ticked = set(re.findall(r'name="exploitation_types" value="([^"]+)"[^>]*checked', html))
    assert ticked == {"labour", "sexual"}
    assert '<option value="ER" selected>' in html
    assert not AnonymousNotification.objects.exists()


def test_a_notification_started_from_a_draft_still_deletes_it_when_sent_after_signing_in_again():
    user = responder()
    client = signed_in(user)
    intake = reverse("referrals:intake")
    client.post(intake, {"given_name": "Ilir", "gender": "male", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    url = reverse("referrals:anonymous_notification")
    html = client.get(url, {"draft": draft.pk}, follow=True).content.decode()
    hidden = ("form_key", "owner", "draft", "draft_version")
    typed = {"adult": "on", "nationality": "AL", "exploitation_types": ["labour"], "region": "london"}
    session_lapses(client)
    client.post(url, {**typed, **hidden_values(html, hidden)})

    html = sign_in(client, user, url).content.decode()
    assert SHOWN_AGAIN in html
    assert hidden_values(html, ("draft", "draft_version")) == {
        "draft": str(draft.pk),
        "draft_version": str(draft.version),
    }
    assert client.post(url, {**typed, "gender": "male", **hidden_values(html, hidden)}).status_code == 302
    assert AnonymousNotification.objects.exists() and not ReferralDraft.objects.exists()


def hidden_values(html: str, names: tuple[str, ...]) -> dict[str, str]:
    return {name: re.search(rf'name="{name}" value="([^"]+)"', html)[1] for name in names}


def csrf_field(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def signed_in_checking_csrf(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def signs_in_again_elsewhere(client: Client) -> None:
    """Signing in gives the browser a new CSRF secret; forms already open still carry the old one."""
    client.cookies["csrftoken"] = "n" * 32


def test_a_progress_note_refused_for_a_stale_csrf_token_comes_back_on_its_form():
    referral, staff, _ = placed()
    client = signed_in_checking_csrf(staff)
    url = action_url(referral, "record_progress")
    html = client.get(url, follow=True).content.decode()
    signs_in_again_elsewhere(client)
    response = client.post(
        url,
        {"csrfmiddlewaretoken": csrf_field(html), "owner": owner_field(html), "record_progress-note": NOTE},
    )
    assert response.status_code == 302 and response["Location"] == url
    page = client.get(url, follow=True).content.decode()
    assert SHOWN_AGAIN in page and f"{NOTE}</textarea>" in page
    assert progress_notes(referral) == 0


def test_an_intake_refused_for_a_stale_csrf_token_is_kept_as_a_draft():
    user = responder()
    client = signed_in_checking_csrf(user)
    url = reverse("referrals:intake")
    html = client.get(url, follow=True).content.decode()
    signs_in_again_elsewhere(client)
    response = client.post(
        url,
        {
            "csrfmiddlewaretoken": csrf_field(html),
            "owner": owner_field(html),
            "given_name": "Amina",
            "account": NOTE,
            "action": "submit",
        },
        follow=True,
    )
    draft = ReferralDraft.objects.get(owner=user)
    assert response.redirect_chain[0] == (f"{url}?draft={draft.pk}", 302)
    assert "saved as a draft" in response.content.decode()
    assert draft.data["account"] == NOTE


def test_an_intake_refused_for_a_stale_csrf_token_keeps_a_draft_changed_since_on_another_device_as_it_is():
    user = responder()
    client = signed_in_checking_csrf(user)
    url = reverse("referrals:intake")
    desktop = signed_in(user)
    desktop.post(url, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    html = client.get(f"{url}?draft={draft.pk}", follow=True).content.decode()
    page = desktop.get(f"{url}?draft={draft.pk}", follow=True).content.decode()
    version = re.search(r'name="draft_version" value="(\d+)"', page)[1]
    desktop.post(
        url,
        {
            "given_name": "Amina",
            "account": NOTE,
            "draft": draft.pk,
            "draft_version": version,
            "action": "save_draft",
        },
    )
    signs_in_again_elsewhere(client)

    sent = {"given_name": "Amina", "family_name": "Haile", "action": "save_draft"}
    loaded = {"draft": draft.pk, "draft_version": re.search(r'name="draft_version" value="(\d+)"', html)[1]}
    response = client.post(
        url,
        {"csrfmiddlewaretoken": csrf_field(html), "owner": owner_field(html), **sent, **loaded},
        follow=True,
    )

    assert ReferralDraft.objects.get(pk=draft.pk).data["account"] == NOTE
    kept = ReferralDraft.objects.exclude(pk=draft.pk).get()
    assert kept.data["family_name"] == "Haile"
    assert response.redirect_chain[0] == (f"{url}?draft={kept.pk}", 302)
    assert "the draft you opened was changed in another tab or on another device" in response.content.decode()


def test_a_form_refused_for_its_csrf_token_without_its_users_signature_keeps_nothing_and_says_what_to_do():
    referral, staff, _ = placed()
    client = signed_in_checking_csrf(staff)
    response = client.post(action_url(referral, "record_progress"), {"record_progress-note": NOTE})
    assert response.status_code == 403
    assert "Go back, reload the page, and send it again." in response.content.decode()
    assert not UnsentForm.objects.exists()


@pytest.mark.django_db(transaction=True)  # the migrations run back and forth
def test_going_back_to_one_unsent_form_per_owner_and_form_keeps_the_latest_of_each():
    referral, staff, _ = placed()
    url = action_url(referral, "record_progress")
    for note in ("First go", NOTE):
        latest = keep_unsent_form(owner=staff, form=url, data={"record_progress-note": [note]})
    elsewhere = keep_unsent_form(owner=staff, form=f"{url}x", data={"record_progress-note": ["Other"]})
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("referrals", "0008_no_placement_clock_while_missing")])
        assert set(UnsentForm.objects.values_list("pk", flat=True)) == {latest.pk, elsewhere.pk}
        executor = MigrationExecutor(connection)
        executor.migrate([("referrals", "0009_several_unsent_forms_per_owner_and_form")])
        again = keep_unsent_form(owner=staff, form=url, data={"record_progress-note": ["Again"]})
        assert UnsentForm.objects.filter(owner=staff, form=url).count() == 2
        assert UnsentForm.objects.get(pk=again.pk).data == {"record_progress-note": ["Again"]}
        assert UnsentForm.objects.get(pk=latest.pk).data == {"record_progress-note": [NOTE]}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
