import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import DUTY_PHONE_OF_ANOTHER_KIND_MESSAGE, Organisation, User
from care_providers.models import CareProvider, Placement
from referrals.phone_numbers import (
    NOT_ONE_NUMBER_MESSAGE,
    PHONE_TOO_FEW_DIGITS_MESSAGE,
    PHONE_TOO_LONG_MESSAGE,
)
from tests.factories import CareProviderFactory, OrganisationFactory, provider_admin_form, responder
from tests.reports.caseload import anonymous_notification
from tests.web.conftest import offered as offer_made
from tests.web.conftest import placed, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    return signed_in(User.objects.create_superuser("root", "root@example.test", "a-long-admin-password"))


def test_every_provider_field_is_editable_in_the_admin_without_raw_json(admin_client):
    provider = CareProviderFactory(regions=["london"], services=["outreach"], languages=["en"])
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    form = admin_client.get(url).content.decode()
    assert 'type="checkbox" name="regions" value="wales"' in form
    assert 'name="languages"' in form and '<option value="sq"' in form

    response = admin_client.post(
        url,
        {
            "organisation": provider.organisation_id,
            "name": "Renamed House",
            "active": "on",
            "regions": ["wales", "scotland"],
            "services": ["accommodation", "outreach"],
            "beds_women": 7,
            "beds_men": 3,
            "beds_family": 1,
            "supports_children": "",
            "languages": ["sq", "vi"],
            "notification_emails": "duty@house.test\nmanager@house.test",
            "webhook_url": "https://house.test/hooks",
            "webhook_secret": "s3cret-of-16-chars",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = CareProvider.objects.select_related("organisation").get(pk=provider.pk)
    assert provider.name == "Renamed House"
    assert provider.regions == ["wales", "scotland"]
    assert provider.services == ["accommodation", "outreach"]
    assert (provider.beds_women, provider.beds_men, provider.beds_family) == (7, 3, 1)
    assert provider.supports_children is False
    assert provider.languages == ["sq", "vi"]
    assert provider.organisation.notification_emails == ["duty@house.test", "manager@house.test"]
    assert provider.organisation.webhook_url == "https://house.test/hooks"
    assert provider.organisation.webhook_secret == "s3cret-of-16-chars"


def test_an_unknown_region_or_a_bad_email_is_refused(admin_client):
    provider = CareProviderFactory()
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    response = admin_client.post(
        url,
        {
            "organisation": provider.organisation_id,
            "name": provider.name,
            "regions": ["atlantis"],
            "services": ["accommodation"],
            "beds_women": 1,
            "beds_men": 1,
            "beds_family": 1,
            "notification_emails": "not-an-address",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "atlantis is not one of the available choices" in html
    assert "Not an e-mail address: not-an-address" in html


def test_capacity_cannot_be_lowered_below_the_beds_people_are_in(admin_client):
    referral, _staff, _boss = placed()  # a woman, in a bed for women
    provider = Placement.objects.get(referral=referral).provider
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    response = admin_client.post(url, provider_admin_form(provider, beds_women=0, beds_men=0, beds_family=0))
    assert response.status_code == 200
    assert (
        "1 person is placed in beds for women now. Reallocate 1 before lowering" in response.content.decode()
    )
    provider.refresh_from_db()
    assert provider.beds_women > 0


def test_a_provider_cannot_stop_supporting_children_while_a_child_is_placed_with_it_or_offered_to_it(
    admin_client,
):
    child, _staff, _boss = placed(date_of_birth=None, age_estimate=15, consent=False)
    provider = Placement.objects.get(referral=child).provider
    offer_made(provider, date_of_birth=None, age_estimate=16, consent=False)
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    response = admin_client.post(url, provider_admin_form(provider, supports_children=""))
    assert response.status_code == 200
    assert (
        "1 child is placed with this provider and 1 child is offered to it now. Reallocate the child "
        "placed and withdraw the offer before it stops supporting children."
    ) in response.content.decode()
    provider.refresh_from_db()
    assert provider.supports_children is True


def test_a_provider_cannot_stop_offering_accommodation_while_people_are_in_its_beds_or_offered_one(
    admin_client,
):
    referral, _staff, _boss = placed()  # a woman, in a bed for women
    provider = Placement.objects.get(referral=referral).provider
    offer_made(provider)  # on the accommodation route
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    response = admin_client.post(url, provider_admin_form(provider, services=["outreach"]))
    assert response.status_code == 200
    assert (
        "1 person is placed in a bed with this provider and 1 person needing a bed is offered to it now. "
        "Reallocate them and withdraw the offer before it stops offering accommodation."
    ) in response.content.decode()
    provider.refresh_from_db()
    assert "accommodation" in provider.services


def test_a_provider_stops_supporting_children_once_none_is_placed_or_offered(admin_client):
    adult, _staff, _boss = placed()
    provider = Placement.objects.get(referral=adult).provider
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    response = admin_client.post(url, provider_admin_form(provider, supports_children=""))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.supports_children is False


def test_a_webhook_secret_is_never_shown_and_an_empty_field_keeps_it(admin_client):
    provider = CareProviderFactory(organisation__webhook_url="https://house.test/hooks")
    organisation = provider.organisation
    organisation.webhook_secret = "s3cret-never-shown"
    organisation.save()
    for url, data in (
        (
            reverse("admin:accounts_organisation_change", args=[organisation.pk]),
            {"name": organisation.name, "kind": organisation.kind, "webhook_url": "https://house.test/hooks"},
        ),
        (
            reverse("admin:care_providers_careprovider_change", args=[provider.pk]),
            provider_admin_form(provider, webhook_url="https://house.test/hooks"),
        ),
    ):
        assert "s3cret-never-shown" not in admin_client.get(url).content.decode()
        response = admin_client.post(url, {**data, "webhook_secret": ""})
        assert response.status_code == 302, response.content.decode()[:2000]
        organisation.refresh_from_db()
        assert organisation.webhook_secret == "s3cret-never-shown"

    url = reverse("admin:accounts_organisation_change", args=[organisation.pk])
    admin_client.post(url, {"name": organisation.name, "kind": organisation.kind, "webhook_url": ""})
    organisation.refresh_from_db()
    assert (organisation.webhook_url, organisation.webhook_secret) == ("", "")


@pytest.mark.parametrize(
    ("webhook_url", "webhook_secret", "error"),
    [
        ("https://house.test/hooks", "", "Enter a shared secret for the webhook"),
        ("https://house.test/hooks", "short", "Use at least 16 characters"),
        ("https://user:pw@house.test/hooks", "a-long-enough-secret", "Leave the user name and password out"),
    ],
    ids=["no secret", "short secret", "credentials in the URL"],
)
def test_a_webhook_that_anyone_could_sign_or_that_carries_credentials_is_refused(
    admin_client, webhook_url, webhook_secret, error
):
    """A signature made with an empty or guessable key proves nothing to the receiver."""
    organisation = OrganisationFactory(kind="police")
    response = admin_client.post(
        reverse("admin:accounts_organisation_change", args=[organisation.pk]),
        {
            "name": organisation.name,
            "kind": organisation.kind,
            "webhook_url": webhook_url,
            "webhook_secret": webhook_secret,
        },
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    organisation.refresh_from_db()
    assert (organisation.webhook_url, organisation.webhook_secret) == ("", "")


def test_moving_a_provider_to_another_organisation_keeps_that_organisations_own_secret(admin_client):
    provider = CareProviderFactory(
        organisation__webhook_url="https://old.test/hooks", organisation__webhook_secret="old-secret"
    )
    other = OrganisationFactory(
        kind="care_provider", webhook_url="https://new.test/hooks", webhook_secret="new-secret"
    )
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    response = admin_client.post(
        url,
        provider_admin_form(
            provider, organisation=other.pk, webhook_url="https://new.test/hooks", webhook_secret=""
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    other.refresh_from_db()
    assert other.webhook_secret == "new-secret"


def test_a_providers_duty_phone_is_set_on_the_provider_or_on_its_organisation(admin_client):
    provider = CareProviderFactory()
    organisation = provider.organisation
    for url, data, number in (
        (
            reverse("admin:care_providers_careprovider_change", args=[provider.pk]),
            provider_admin_form(provider),
            "020 7946 0401",
        ),
        (
            reverse("admin:accounts_organisation_change", args=[organisation.pk]),
            {"name": organisation.name, "kind": organisation.kind},
            "+44 20 7946 0402",
        ),
    ):
        assert 'name="duty_phone"' in admin_client.get(url).content.decode()
        response = admin_client.post(url, {**data, "duty_phone": number})
        assert response.status_code == 302, response.content.decode()[:2000]
        organisation.refresh_from_db()
        assert organisation.duty_phone == number


@pytest.mark.parametrize("page", ["provider", "organisation"])
@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("Ask for Jo, 020 79", PHONE_TOO_FEW_DIGITS_MESSAGE),
        ("020 7946 0123 ext 12", NOT_ONE_NUMBER_MESSAGE),
        ("020 7946 0405 (after 6pm: 07700 900777)", NOT_ONE_NUMBER_MESSAGE),
        ("020 7946 0405 07700 900777", NOT_ONE_NUMBER_MESSAGE),
        ("٠٢٠٧٩٤٦٠١٢٣", NOT_ONE_NUMBER_MESSAGE),
        # 51 characters, of one number: the project's message, not Django's count.
        ("020 7946 0123" + "-" * 38, PHONE_TOO_LONG_MESSAGE),
    ],
    ids=["too few digits", "extension", "hours", "two numbers", "arabic-indic digits", "too long"],
)
def test_a_duty_phone_that_is_not_one_number_to_ring_is_refused(admin_client, page, number, message):
    provider = CareProviderFactory()
    organisation = provider.organisation
    url, data = {
        "provider": (
            reverse("admin:care_providers_careprovider_change", args=[provider.pk]),
            provider_admin_form(provider),
        ),
        "organisation": (
            reverse("admin:accounts_organisation_change", args=[organisation.pk]),
            {"name": organisation.name, "kind": organisation.kind},
        ),
    }[page]
    response = admin_client.post(url, {**data, "duty_phone": number})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["duty_phone"]
    assert errors == [message]
    organisation.refresh_from_db()
    assert organisation.duty_phone == ""


def test_only_a_care_providers_page_offers_a_duty_phone(admin_client):
    """The managers' own duty line is a setting: a box on the contractor's page would seem to change it."""
    for kind, offered in (("care_provider", True), ("police", False), ("contractor", False)):
        organisation = OrganisationFactory(kind=kind)
        page = admin_client.get(reverse("admin:accounts_organisation_change", args=[organisation.pk]))
        assert ('name="duty_phone"' in page.content.decode()) is offered, kind
    # A new organisation's kind is chosen on the page itself.
    assert (
        'name="duty_phone"' in admin_client.get(reverse("admin:accounts_organisation_add")).content.decode()
    )


@pytest.mark.parametrize("page", ["added", "kind changed", "held already"])
def test_a_duty_phone_on_an_organisation_other_than_a_care_provider_is_refused_until_cleared(
    admin_client, page
):
    organisation = OrganisationFactory(kind="care_provider", duty_phone="020 7946 0401")
    url = reverse("admin:accounts_organisation_change", args=[organisation.pk])
    data = {"name": organisation.name, "kind": "police", "duty_phone": "020 7946 0401"}
    if page == "added":
        url, data = reverse("admin:accounts_organisation_add"), {**data, "name": "Kent Police"}
    elif page == "held already":  # as the release before this one let it be saved
        Organisation.objects.filter(pk=organisation.pk).update(kind="contractor")
        data["kind"] = "contractor"
        assert 'name="duty_phone"' in admin_client.get(url).content.decode()
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["duty_phone"] == [DUTY_PHONE_OF_ANOTHER_KIND_MESSAGE]
    assert not Organisation.objects.filter(name="Kent Police").exists()

    response = admin_client.post(url, {**data, "duty_phone": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Organisation.objects.get(name=data["name"])
    assert (saved.kind, saved.duty_phone) == (data["kind"], "")


def test_moving_a_provider_to_another_organisation_keeps_that_organisations_phone_addresses_and_webhook(
    admin_client,
):
    """The form shows the provider's organisation until now; saved as it is, with only the organisation
    changed, it must not write that one's duty phone and addresses over the other's."""
    provider = CareProviderFactory(
        organisation__duty_phone="020 7946 0123",
        organisation__notification_emails=["duty@old.test"],
        organisation__webhook_url="https://old.test/hooks",
        organisation__webhook_secret="old-secret-of-16-chars",
    )
    old = provider.organisation
    other = OrganisationFactory(
        kind="care_provider", duty_phone="0161 496 0000", notification_emails=["duty@new.test"]
    )
    url = reverse("admin:care_providers_careprovider_change", args=[provider.pk])
    as_shown = {
        "duty_phone": "020 7946 0123",
        "notification_emails": "duty@old.test",
        "webhook_url": "https://old.test/hooks",
    }
    response = admin_client.post(url, provider_admin_form(provider, organisation=other.pk, **as_shown))
    assert response.status_code == 302, response.content.decode()[:2000]
    other.refresh_from_db()
    assert (other.duty_phone, other.notification_emails, other.webhook_url, other.webhook_secret) == (
        "0161 496 0000",
        ["duty@new.test"],
        "",
        "",
    )
    old.refresh_from_db()
    assert (old.duty_phone, old.notification_emails) == ("020 7946 0123", ["duty@old.test"])

    # Moved again, with the duty phone changed on the form: the change is the new organisation's.
    third = OrganisationFactory(
        kind="care_provider", duty_phone="0113 496 0000", notification_emails=["duty@third.test"]
    )
    provider.refresh_from_db()
    response = admin_client.post(
        url,
        provider_admin_form(
            provider,
            organisation=third.pk,
            duty_phone="0113 496 0999",
            notification_emails="duty@new.test",
            webhook_url="",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    third.refresh_from_db()
    assert (third.duty_phone, third.notification_emails) == ("0113 496 0999", ["duty@third.test"])


def test_a_provider_added_to_an_organisation_keeps_that_organisations_duty_phone_and_addresses(admin_client):
    organisation = OrganisationFactory(
        kind="care_provider", duty_phone="0161 496 0000", notification_emails=["duty@new.test"]
    )
    response = admin_client.post(
        reverse("admin:care_providers_careprovider_add"),
        {
            "organisation": organisation.pk,
            "name": "Causeway",
            "active": "on",
            "regions": ["london"],
            "services": ["outreach"],
            "beds_women": 0,
            "beds_men": 0,
            "beds_family": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    organisation.refresh_from_db()
    assert (organisation.duty_phone, organisation.notification_emails) == ("0161 496 0000", ["duty@new.test"])


def test_an_organisation_holding_a_care_provider_cannot_be_given_another_kind(admin_client):
    # Its provider would be left with an organisation that the provider's own page cannot choose, and so
    # could never be saved again.
    provider = CareProviderFactory(name="Solo Refuge")
    organisation = provider.organisation
    response = admin_client.post(
        reverse("admin:accounts_organisation_change", args=[organisation.pk]),
        {"name": organisation.name, "kind": "ngo", "notification_emails": "", "webhook_url": ""},
    )
    assert response.status_code == 200
    assert (
        "This organisation is the care provider Solo Refuge, so it stays a care provider organisation"
        in response.content.decode()
    )
    assert Organisation.objects.get(pk=organisation.pk).kind == "care_provider"


def test_the_admin_names_the_care_providers_section_in_words(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Care_Providers" not in page
    assert 'class="section" title="Models in the Care providers application">Care providers</a>' in page


def test_organisations_and_users_are_editable(admin_client):
    organisation = OrganisationFactory()
    response = admin_client.post(
        reverse("admin:accounts_organisation_change", args=[organisation.pk]),
        {
            "name": organisation.name,
            "kind": "ngo",
            "notification_emails": "a@ngo.test",
            "webhook_url": "",
            "webhook_secret": "",
        },
    )
    assert response.status_code == 302
    organisation = Organisation.objects.get(pk=organisation.pk)
    assert (organisation.kind, organisation.notification_emails) == ("ngo", ["a@ngo.test"])
    assert admin_client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:care_providers_careprovider_changelist")).status_code == 200


def test_an_anonymous_notification_reads_in_words_in_the_admin_not_as_codes_and_json(admin_client):
    notification = anonymous_notification(by=responder(), at=timezone.now(), nationality="ER")
    notification.exploitation_types = ["sexual", "labour"]
    notification.save()
    html = admin_client.get(
        reverse("admin:referrals_anonymousnotification_change", args=[notification.pk])
    ).content.decode()
    assert "Eritrea" in html and "Sexual, Labour" in html
    assert "sexual&quot;" not in html and 'sexual"' not in html
