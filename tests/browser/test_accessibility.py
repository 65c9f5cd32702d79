"""What assistive technology and the ways people set up their browsers need of Harbour's pages, beyond
what axe-core checks on every page of the journeys."""

from __future__ import annotations

import pytest

from referrals import services
from tests.factories import CareProviderFactory, manager, provider_user, submitted_referral

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_in_a_contrast_theme_a_focused_link_shows_its_outline_and_underline_and_charts_keep_showing(journeys):
    boss = manager(username="contrast-manager")
    house = CareProviderFactory(name="Contrast House")
    staff = provider_user(house)
    for index in range(3):
        referral = submitted_referral()
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
        if index == 0:
            services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=house.pk)
            services.accept_offer(referral_id=referral.pk, actor=staff)

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
