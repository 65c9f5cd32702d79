"""A care provider's 24-hour duty phone: shown to the managers, to tap to call, wherever they are to phone
the provider; never to a first responder or another provider."""

import pytest
from django.urls import reverse

from accounts.models import Organisation
from referrals import services
from referrals.wording import phone_link
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, provider_user
from tests.web.conftest import offered, placed, signed_in

pytestmark = pytest.mark.django_db

NUMBER = "020 7946 0401"
LINK = '<a href="tel:02079460401">020 7946 0401</a>'
NONE_RECORDED = "no duty phone in Harbour: an administrator can add it in the admin"


def case_page(user, referral) -> str:
    return signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()


def test_a_manager_sees_the_duty_phone_of_the_provider_offered_the_person_and_then_of_the_placement():
    referral, provider, boss = offered(CareProviderFactory(name="Hestia", organisation__duty_phone=NUMBER))
    assert f"Offered to Hestia (duty phone {LINK}); answer due" in case_page(boss, referral)
    services.accept_offer(referral_id=referral.pk, actor=provider_user(provider))
    assert f"Placed with Hestia (duty phone {LINK}) since" in case_page(boss, referral)


def test_a_manager_is_told_when_the_provider_has_no_duty_phone_recorded():
    referral, _provider, boss = offered(CareProviderFactory(name="Hestia"))
    assert f"Offered to Hestia ({NONE_RECORDED}); answer due" in case_page(boss, referral)


def test_neither_the_provider_nor_the_referring_responder_sees_a_providers_duty_phone():
    referral, staff, _boss = placed(CareProviderFactory(name="Hestia", organisation__duty_phone=NUMBER))
    for user in (staff, referral.submitted_by):
        page = case_page(user, referral)
        assert NUMBER not in page and "duty phone" not in page.lower()


def suggestion_of(name: str, page: str) -> str:
    """The suggested provider's entry on the page, up to its reasons."""
    start = page.index(f"<strong>{name}</strong>")
    return page[start : page.index("<ul>", start)]


def test_each_suggested_provider_comes_with_its_duty_phone_or_that_none_is_recorded():
    CareProviderFactory(name="Hestia", organisation__duty_phone=NUMBER)
    CareProviderFactory(name="Causeway")
    case = bring_to("assessed")
    for url in (
        reverse("referrals:case", args=[case.referral.pk]),
        reverse("referrals:case_action", args=[case.referral.pk, "offer"]),
    ):
        page = signed_in(case.manager).get(url, follow=True).content.decode()
        hestia, causeway = (suggestion_of(name, page) for name in ("Hestia", "Causeway"))
        assert f'<p class="meta">Duty phone {LINK}</p>' in hestia
        assert (
            '<p class="meta">No duty phone in Harbour: an administrator can add it in the admin</p>'
            in causeway
        )


def test_an_offer_note_refused_while_another_offer_is_pending_gives_the_duty_phone_of_the_provider_to_phone():
    referral, _provider, boss = offered(CareProviderFactory(name="Hestia", organisation__duty_phone=NUMBER))
    response = signed_in(boss).post(
        reverse("referrals:case_action", args=[referral.pk, "offer"]),
        {"offer-provider": CareProviderFactory().pk, "offer-note": "Keep her away from Leeds."},
    )
    assert response.status_code == 409
    assert (
        f"Hestia (duty phone {LINK}) has not seen your note: phone them with it now, quoting case "
        f"{referral.reference}"
    ) in response.content.decode()


def test_an_offer_note_refused_while_a_provider_with_no_duty_phone_decides_says_harbour_holds_none():
    referral, _provider, boss = offered(CareProviderFactory(name="Hestia"))
    response = signed_in(boss).post(
        reverse("referrals:case_action", args=[referral.pk, "offer"]),
        {"offer-provider": CareProviderFactory().pk, "offer-note": "Keep her away from Leeds."},
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert (
        f"Hestia has not seen your note: phone them with it now, quoting case {referral.reference}, or give "
        "it with the next offer if they reject the person. Harbour has no duty phone for them: an "
        "administrator can add it in the admin."
    ) in page
    assert "ask the provider" not in page


@pytest.mark.parametrize(
    ("number", "dialled"),
    [
        ("020 7946 0401", "02079460401"),
        ("+44 (0)20 7946 0404", "+442079460404"),  # the trunk 0 is not dialled after the country code
        ("+44(0) 20-7946-0404", "+442079460404"),
        ("(020) 7946 0401", "02079460401"),  # a trunk 0 in brackets is dialled within the country
        ("+353 1 234 5678", "+35312345678"),
    ],
)
def test_a_duty_phone_is_linked_to_dial_the_one_number_written(number, dialled):
    assert phone_link(number) == f'<a href="tel:{dialled}">{number}</a>'


@pytest.mark.parametrize(
    "text",
    [
        "020 7946 0123 ext 12",
        "020 7946 0405 (after 6pm: 07700 900777)",
        "07700 900123 or 07700 900456",
        "07700 900123 07700 900456",  # two numbers run together would ring neither
        "٠٢٠٧٩٤٦٠١٢٣",  # digits a phone cannot dial
        "Ask for Jo",
    ],
)
def test_text_that_is_not_one_number_to_dial_is_shown_as_it_is_and_not_linked(text):
    """A contact phone keeps what the responder typed; nothing Harbour links rings a number that does not
    exist."""
    assert phone_link(text) == text


def test_a_duty_phone_stored_before_it_had_to_be_one_number_is_shown_to_the_manager_without_a_link():
    hestia = CareProviderFactory(name="Hestia")
    # As the release before this one stored it, without the check of one number.
    Organisation.objects.filter(pk=hestia.organisation_id).update(duty_phone="020 7946 0123 ext 12")
    referral, _provider, boss = offered(hestia)
    assert "Offered to Hestia (duty phone 020 7946 0123 ext 12); answer due" in case_page(boss, referral)
