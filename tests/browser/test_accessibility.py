"""What assistive technology and the ways people set up their browsers need of Harbour's pages, beyond
what axe-core checks on every page of the journeys."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from referrals import services
from referrals.models import Referral, ReferralDraft
from tests.factories import (
    PASSWORD,
    CareProviderFactory,
    manager,
    provider_user,
    responder,
    submitted_referral,
)

from .conftest import DESKTOP, PHONE, assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def assessed_cases(boss, staff, house, *, assessed: int, placed: int) -> None:
    """Cases assessed by ``boss``, the first ``placed`` of them placed with ``house`` by ``staff``: a report
    with figures in every table."""
    for index in range(assessed):
        referral = submitted_referral()
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
        if index < placed:
            services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=house.pk)
            services.accept_offer(referral_id=referral.pk, actor=staff)


def test_in_a_contrast_theme_a_focused_link_shows_its_outline_and_underline_and_charts_keep_showing(journeys):
    boss = manager(username="contrast-manager")
    house = CareProviderFactory(name="Contrast House")
    staff = provider_user(house)
    assessed_cases(boss, staff, house, assessed=3, placed=1)

    reader = journeys("contrast-theme", forced_colors="active")
    reader.sign_in(boss.username)
    page = reader.go("Reports", "caseload report")
    for _ in range(10):  # to the first link of the main menu, with the keyboard: it shows its focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('nav') !== null"):
            break
    focused = page.evaluate(
        """() => { const style = getComputedStyle(document.activeElement);
                   return [document.activeElement.tagName, style.outlineStyle, style.textDecorationLine]; }"""
    )
    assert focused[0] == "A" and focused[1] != "none" and "underline" in focused[2], focused

    # Every shape and word of the charts is drawn in the theme's colours, not in those of charts.py.
    drawn = page.evaluate(
        """() => {
          const colours = new Set(['CanvasText', 'Canvas', 'Highlight', 'GrayText'].map(name => {
            const swatch = document.createElement('span');
            swatch.style.color = name;
            document.body.append(swatch);
            return getComputedStyle(swatch).color;
          }));
          const off = [];
          for (const shape of document.querySelectorAll('svg.chart text, svg.chart rect, svg.chart line, svg.chart polyline')) {
            const style = getComputedStyle(shape);
            const paint = shape.tagName === 'line' || shape.tagName === 'polyline' ? style.stroke : style.fill;
            if (!colours.has(paint)) off.push(`${shape.tagName} ${paint}`);
          }
          return {colours: colours.size, shapes: document.querySelectorAll('svg.chart rect').length, off};
        }"""
    )
    assert drawn["colours"] == 4 and drawn["shapes"] > 0 and drawn["off"] == [], drawn


# Where a link of the error summary left its field: the top of its label (or legend) and the bottom of its
# error message, above it, and its own top, against the window.
FIELD_IN_VIEW = """() => {
  const field = document.activeElement.closest('.field');
  const label = field.querySelector('label, legend').getBoundingClientRect();
  const error = field.querySelector('.error-message').getBoundingClientRect();
  const top = document.activeElement.getBoundingClientRect().top;
  return {id: document.activeElement.id, label: label.top, error: error.bottom, top, height: innerHeight};
}"""


@pytest.mark.parametrize(
    ("viewport", "font_size"),
    [(PHONE, None), ({"width": 320, "height": 568}, None), (PHONE, 24), (DESKTOP, None)],
    ids=["phone", "small phone", "phone with a large font", "desktop"],
)
def test_a_link_of_the_error_summary_shows_its_field_with_its_label_hint_and_message(
    journeys, viewport, font_size
):
    name = f"summary-links-{viewport['width']}-{font_size or 16}"
    police = responder(username=name)
    officer = journeys(name, viewport=viewport, font_size=font_size)
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    officer.submit("Submit referral", "intake errors")
    links = page.get_by_role("alert").get_by_role("link")
    hidden = []
    for index in range(links.count()):
        page.evaluate("window.scrollTo(0, 0)")
        links.nth(index).click()
        shown = page.evaluate(FIELD_IN_VIEW)
        if shown["label"] < 0 or not shown["error"] < shown["top"] < shown["height"]:
            hidden.append(shown)
    assert links.count() > 5 and hidden == []


def test_refused_for_want_of_consent_the_summary_shows_the_way_on_and_enter_still_submits_the_referral(
    journeys,
):
    police = responder(username="no-consent")
    officer = journeys("no-consent", viewport=PHONE)
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    page.get_by_label("Given name").fill("Ilir")
    page.get_by_label("Family name").fill("Dushku")
    page.get_by_label("Age estimate, in years").fill("38")
    officer.submit("Submit referral", "intake refused for want of consent")

    page.get_by_role("alert").get_by_role("link", name=re.compile("An adult must consent")).click()
    box = page.get_by_role("button", name="Make an anonymous notification instead").bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    with page.expect_navigation():
        page.get_by_label("Given name").press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "Refer a person for support"


# Each table of the report: whether it scrolls sideways in its box, whether the keyboard can reach the box
# (as it must, to scroll it), and whether the box is a region, named for its table.
MEASURE_TABLE_BOXES = """() => [...document.querySelectorAll('.table-scroll')].map(box => ({
  table: box.querySelector('caption').textContent,
  scrolls: box.scrollWidth > box.clientWidth,
  stop: box.tabIndex === 0,
  region: box.getAttribute('role') === 'region' && box.getAttribute('aria-label') === `${box.querySelector('caption').textContent} table`,
}))"""


def test_only_the_report_tables_wide_enough_to_scroll_sideways_are_stops_of_the_tab_key(journeys):
    boss = manager(username="report-tables-manager")
    house = CareProviderFactory(name="A provider with a name long enough to need most of the width")
    staff = provider_user(house)
    assessed_cases(boss, staff, house, assessed=4, placed=2)

    scrolled, stops = set(), set()
    for font_size in (16, 24):
        reader = journeys(f"report-table-stops-{font_size}px", font_size=font_size)
        reader.sign_in(boss.username)
        page = reader.go("Reports", "caseload report")
        for width in (320, 375, 641, 700, 800, 960, 1024, 1280, 1600):
            page.set_viewport_size({"width": width, "height": 900})
            boxes = page.evaluate(MEASURE_TABLE_BOXES)
            assert len(boxes) > 10 and all(box["stop"] == box["region"] for box in boxes)
            unreachable = [box["table"] for box in boxes if box["scrolls"] and not box["stop"]]
            assert unreachable == [], f"{width}px wide at {font_size}px"
            scrolled |= {box["table"] for box in boxes if box["scrolls"]}
            if width >= 1280 and font_size == 16:  # a manager's desktop: every column in sight
                assert [box["table"] for box in boxes if box["scrolls"]] == [], f"{width}px wide"
            stops |= {box["table"] for box in boxes if box["stop"]}
    assert scrolled == stops == {"Care providers", "Timeliness"}


def test_the_admins_list_of_care_providers_shows_every_column_beside_its_filters_at_1280px(journeys):
    admin = manager(username="provider-list-admin", is_staff=True, is_superuser=True)
    CareProviderFactory(name="A provider with a name long enough to need most of the width")
    staff = journeys("admin-provider-list", viewport=DESKTOP)
    staff.sign_in(admin.username)
    staff.page.goto("/admin/care_providers/careprovider/")
    assert staff.page.locator(".results").evaluate("box => box.scrollWidth <= box.clientWidth")


def warned_of_the_session_end(journeys, settings, name: str):
    """A first responder signed in, once the page warns that their session is about to end."""
    settings.SESSION_COOKIE_AGE = 300  # the warning comes two minutes before: 3 minutes after a page opens
    officer = journeys(name)
    officer.sign_in(responder(username=name).username)
    officer.context.clock.install()  # the page's timers run on the test's clock from here
    officer.page.goto("/referrals/drafts/")
    officer.context.clock.fast_forward("03:01")
    warning = officer.page.get_by_role("alertdialog", name="You are about to be signed out")
    warning.wait_for()
    return officer, warning


def session_of(officer) -> Session:
    key = next(cookie["value"] for cookie in officer.context.cookies() if cookie["name"] == "sessionid")
    return Session.objects.get(session_key=key)


def test_before_the_session_ends_a_dialog_warns_and_staying_signed_in_keeps_the_session(journeys, settings):
    officer, warning = warned_of_the_session_end(journeys, settings, "session-ending")
    page = officer.page
    officer.look("about to be signed out")
    assert "You will be signed out in 2 minutes unless you continue." in warning.inner_text()
    stay = warning.get_by_role("button", name="Stay signed in")
    assert stay.evaluate("button => button === document.activeElement")

    ending = session_of(officer).expire_date
    page.keyboard.press("Enter")
    warning.wait_for(state="hidden")
    # A page's own request extends the session at most once a minute; this one did, just after the page's.
    assert session_of(officer).expire_date > ending


def test_the_session_warning_counts_down_then_says_the_session_ended_and_signs_in_back_to_the_page(
    journeys, settings
):
    settings.SESSION_COOKIE_AGE = 300  # the warning comes two minutes before: 3 minutes after a page opens
    police = responder(username="lapsed-officer")
    officer = journeys("session-warning-ended")
    officer.sign_in(police.username)
    page = officer.page
    page.clock.install()  # the page's timers run on the test's clock from here
    page.goto("/referrals/drafts/")
    page.clock.fast_forward("03:01")
    warning = page.get_by_role("alertdialog", name="You are about to be signed out")
    warning.wait_for()
    text = page.locator("#session-warning-text")
    assert text.inner_text() == "You will be signed out in 2 minutes unless you continue."
    page.clock.fast_forward("01:02")
    assert text.inner_text() == "You will be signed out in less than a minute unless you continue."

    page.clock.fast_forward("01:00")  # the session's time is up
    ended = page.get_by_role("alertdialog", name="You have been signed out")
    ended.wait_for()
    assert "Sign in again to carry on here." in text.inner_text()
    assert "2 minutes" not in ended.inner_text()
    assert not ended.get_by_role("button", name="Stay signed in").is_visible()
    sign_in = ended.get_by_role("link", name="Sign in again")
    assert sign_in.evaluate("link => link === document.activeElement")
    officer.look("session ended")

    Session.objects.all().delete()  # the server ended it too, as its own clock says
    with page.expect_navigation():
        sign_in.click()
    page.get_by_label("Username").fill(police.username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/referrals/drafts/")  # back where they were


def on_the_intake_with_five_minutes_to_sign_out(journeys, settings, username: str):
    """A first responder on a phone, on the intake form, whose session ends after five idle minutes."""
    settings.SESSION_COOKIE_AGE = 300
    officer = journeys(username, viewport=PHONE)
    officer.sign_in(responder(username=username).username)
    officer.page.clock.install()
    officer.page.goto("/referrals/new/")
    return officer


def sign_in_again_once_the_session_has_ended(page, username: str) -> None:
    """The session's time up, by the page's count and the server's: "Sign in again", tapped as the dialog
    comes (it is the button focused), then the sign-in page."""
    page.clock.fast_forward("05:01")
    Session.objects.all().delete()
    ended = page.get_by_role("alertdialog", name="You have been signed out")
    ended.wait_for()
    with page.expect_navigation(url=re.compile(r"/login/")):
        ended.get_by_role("link", name="Sign in again").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_signing_in_again_from_the_session_warning_on_a_phone_keeps_the_referral_typed_into_the_form(
    journeys, settings
):
    officer = on_the_intake_with_five_minutes_to_sign_out(journeys, settings, "lapsed-at-the-scene")
    page = officer.page
    page.get_by_label("Given name").fill("Lule")
    page.get_by_label("Your account").fill("Found sleeping in the back of a car wash.")
    # What was typed goes with "Sign in again", to be kept.
    sign_in_again_once_the_session_has_ended(page, officer.name)
    officer.look("back on the form after signing in again")
    assert page.get_by_label("Given name").input_value() == "Lule"
    assert page.get_by_label("Your account").input_value() == "Found sleeping in the back of a car wash."
    assert not Referral.objects.exists()


def test_signing_in_again_from_the_session_warning_keeps_a_referral_the_form_refused_before_it_ended(
    journeys, settings
):
    officer = on_the_intake_with_five_minutes_to_sign_out(journeys, settings, "lapsed-after-an-error")
    page = officer.page
    page.get_by_label("Given name").fill("Lule")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit referral").click()
    # On the page that answered it, what was typed is what the form was shown with.
    assert page.get_by_role("alert").get_by_text("Enter the person's family name.").is_visible()
    sign_in_again_once_the_session_has_ended(page, officer.name)
    assert page.get_by_label("Given name").input_value() == "Lule"


def test_sign_in_again_after_signing_in_in_another_tab_sends_nothing_and_leaves_the_typing_on_the_form(
    journeys, settings
):
    officer, drafts, intake = two_tabs_signed_in(journeys, settings, "session-tabs-signed-in-again")
    intake.get_by_label("Given name").fill("Lule")
    with drafts.expect_navigation():
        drafts.get_by_role("button", name="Sign out").click()
    ended = intake.get_by_role("alertdialog", name="You have been signed out")
    ended.wait_for()
    drafts.get_by_label("Username").fill(officer.name)
    drafts.get_by_label("Password").fill(PASSWORD)
    with drafts.expect_navigation():
        drafts.get_by_role("button", name="Sign in").click()

    ended.get_by_role("link", name="Sign in again").click()  # signed in already, in the other tab
    ended.wait_for(state="hidden")
    assert intake.url.split("?")[0].endswith("/referrals/new/")
    assert intake.get_by_label("Given name").input_value() == "Lule"
    assert not Referral.objects.exists() and not ReferralDraft.objects.exists()


def test_with_an_idle_limit_of_two_minutes_a_page_opens_without_the_warning_and_warns_halfway(
    journeys, settings
):
    settings.SESSION_COOKIE_AGE = 120
    settings.SESSION_REFRESH_SECONDS = 0  # the page counts from the whole two minutes
    officer = journeys("session-warning-short")
    officer.sign_in(responder(username="short-session-officer").username)
    page = officer.page
    page.clock.install()
    # Stopped: the page's time moves only as the test moves it, however slow a busy machine is.
    page.clock.pause_at(timezone.now() + datetime.timedelta(seconds=1))
    page.goto("/referrals/drafts/")
    warning = page.get_by_role("alertdialog", name="You are about to be signed out")
    assert not warning.is_visible()
    page.clock.fast_forward("00:59")
    assert not warning.is_visible()
    page.clock.fast_forward("00:02")
    warning.wait_for()
    assert (
        warning.inner_text().count("You will be signed out in less than a minute unless you continue.") == 1
    )


def test_when_staying_signed_in_fails_the_session_warning_offers_to_sign_in_again(journeys, settings):
    officer, warning = warned_of_the_session_end(journeys, settings, "session-warning-failed")
    page = officer.page
    Session.objects.all().delete()  # ended meanwhile: signed out everywhere, say
    page.keyboard.press("Enter")
    sign_in = warning.get_by_role("link", name="Sign in again")
    sign_in.wait_for()
    assert "Harbour could not keep you signed in." in warning.inner_text()
    assert sign_in.get_attribute("href").startswith("/login/?next=")
    officer.look("staying signed in failed")


def test_escape_on_the_session_warning_stays_signed_in_rather_than_leaving_the_session_to_end(
    journeys, settings
):
    officer, warning = warned_of_the_session_end(journeys, settings, "session-warning-escaped")
    page = officer.page
    ending = session_of(officer).expire_date
    page.keyboard.press("Escape")
    warning.wait_for(state="hidden")
    # Esc, the keyboard's way to dismiss a dialog, did what the button does: the session goes on.
    assert session_of(officer).expire_date > ending


def two_tabs_signed_in(journeys, settings, name: str):
    """A first responder signed in with two tabs of one browser open, their timers on the test's clock:
    the drafts list, and the intake form left open."""
    settings.SESSION_COOKIE_AGE = 300  # the warning comes two minutes before: 3 minutes after a page opens
    settings.SESSION_REFRESH_SECONDS = 0  # every page extends the session
    officer = journeys(name)
    officer.sign_in(responder(username=name).username)
    officer.context.clock.install()
    drafts = officer.page
    drafts.goto("/referrals/drafts/")
    intake = officer.context.new_page()
    intake.goto("/referrals/new/")
    return officer, drafts, intake


def warning_in(page):
    return page.get_by_role("alertdialog", name="You are about to be signed out")


def test_working_in_one_tab_or_staying_signed_in_there_keeps_the_warning_away_in_the_others(
    journeys, settings
):
    officer, drafts, intake = two_tabs_signed_in(journeys, settings, "session-tabs")
    officer.context.clock.fast_forward("03:01")
    warning_in(drafts).wait_for()
    warning_in(intake).wait_for()

    # Work in one tab, which extends the session: the form left open in the other stops warning, and
    # past the end its own page had counted to, it is still signed in, warned again two minutes before.
    drafts.goto("/cases/")
    warning_in(intake).wait_for(state="hidden")
    officer.context.clock.fast_forward("03:01")
    warning_in(intake).wait_for()
    text = intake.locator("#session-warning-text")
    assert text.inner_text() == "You will be signed out in 2 minutes unless you continue."
    warning_in(drafts).wait_for()

    # "Stay signed in" in the form's tab: the warning goes from both.
    warning_in(intake).get_by_role("button", name="Stay signed in").click()
    warning_in(intake).wait_for(state="hidden")
    warning_in(drafts).wait_for(state="hidden")
    officer.context.clock.fast_forward("02:50")  # short of three minutes by more than a slow step takes
    assert not warning_in(drafts).is_visible() and not warning_in(intake).is_visible()


def test_signing_out_in_one_tab_says_so_in_the_others_at_once(journeys, settings):
    officer, drafts, intake = two_tabs_signed_in(journeys, settings, "session-tabs-signed-out")
    intake.get_by_label("Given name").fill("Lule")
    with drafts.expect_navigation():
        drafts.get_by_role("button", name="Sign out").click()

    ended = intake.get_by_role("alertdialog", name="You have been signed out")
    ended.wait_for()
    assert intake.locator("#session-warning-text").inner_text() == (
        "You signed out in another tab or window. Sign in again to carry on here. "
        "Anything you typed on this page is still on it: close this message to see it."
    )
    assert not ended.get_by_role("button", name="Stay signed in").is_visible()
    sign_in = ended.get_by_role("link", name="Sign in again")
    assert sign_in.evaluate("link => link === document.activeElement")
    assert sign_in.get_attribute("href").startswith("/login/?next=/referrals/new/")
    assert_accessible(intake)
    ended.get_by_role("button", name="Close").click()
    assert intake.get_by_label("Given name").input_value() == "Lule"


SMALL_PHONE = {"width": 320, "height": 640}


def test_the_api_docs_pass_axe_show_the_focus_on_the_request_body_and_fit_a_small_phone(journeys):
    reader = journeys("api-docs", viewport=SMALL_PHONE)
    reader.sign_in(manager(username="api-docs-reader").username)
    page = reader.page
    page.goto("/api/v1/docs/")
    page.locator("#operations-referrals-referrals_create .opblock-summary-control").click()
    page.get_by_role("button", name="Try it out").click()
    body = page.locator("textarea.body-param__text")
    body.wait_for()
    reader.look("api docs, an operation tried out")  # axe: legible colours, no link inside a button

    body.focus()
    assert body.evaluate("area => getComputedStyle(area).outlineStyle") != "none"
    # The responses table scrolls in its own box; nothing else is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"]


def test_without_javascript_the_api_docs_lead_to_the_apis_description(journeys):
    reader = journeys("api-docs-without-javascript", javascript=False)
    page = reader.page
    page.goto("/api/v1/docs/")
    reader.look("api docs without javascript")
    assert page.get_by_role("heading", level=1).inner_text() == "Harbour API documentation"
    description = page.get_by_role("link", name="/api/v1/schema/").get_attribute("href")
    assert page.request.get(description).text().startswith("openapi: 3")
