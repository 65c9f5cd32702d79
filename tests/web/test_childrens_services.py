"""A child's referral names the local authority whose children's services were told, and whom there: asked
on the intake form, kept in drafts, and shown on the case page to whoever may see who the person is."""

from html import escape

import pytest
from django.urls import reverse

from accounts.models import User
from referrals.forms import ReferralForm
from referrals.models import Referral, ReferralDraft
from referrals.validation import LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_MESSAGE, LOCAL_AUTHORITY_REQUIRED_MESSAGE
from tests.factories import manager, provider_user, responder
from tests.web.conftest import assert_field_error_reported, intake_data, offered, placed, signed_in

pytestmark = pytest.mark.django_db

INTAKE = reverse("referrals:intake")
COUNCIL = "Kent County Council"
CONTACT = "Sam Reid, duty social worker, 01632 960481"
# A child by their date of birth, referred without consent.
A_CHILD = {"consent": None, "date_of_birth": "2012-01-01"}


def hint(field: str) -> str:
    return str(ReferralForm.base_fields[field].help_text)


def case_page(user: User, referral: Referral) -> str:
    response = signed_in(user).get(reverse("referrals:case", args=[referral.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_form_asks_for_childrens_services_under_the_age_questions_for_a_child_only():
    html = signed_in(responder()).get(INTAKE, follow=True).content.decode()
    assert html.index('id="id_age_in_doubt"') < html.index("<h3>Children's services</h3>")
    assert html.index("<h3>Children's services</h3>") < html.index('id="id_local_authority"')
    assert "Only for a child or a person who may be under 18" in html
    assert 'aria-describedby="id_local_authority_helptext"' in html
    assert 'aria-describedby="id_local_authority_contact_helptext"' in html


def test_a_child_without_a_local_authority_is_refused_with_the_error_linked_to_the_field():
    response = signed_in(responder()).post(INTAKE, intake_data(**A_CHILD, local_authority_contact=CONTACT))
    assert response.status_code == 400
    assert not Referral.objects.exists()
    html = response.content.decode()
    assert_field_error_reported(
        html,
        field_id="id_local_authority",
        hint=hint("local_authority"),
        message=LOCAL_AUTHORITY_REQUIRED_MESSAGE,
    )
    assert escape(CONTACT) in html  # nothing typed is lost


@pytest.mark.parametrize("field", ["local_authority", "local_authority_contact"])
def test_an_adult_with_childrens_services_details_is_told_they_belong_to_a_child(field):
    response = signed_in(responder()).post(INTAKE, intake_data(**{field: COUNCIL}))
    assert response.status_code == 400
    assert not Referral.objects.exists()
    assert_field_error_reported(
        response.content.decode(),
        field_id=f"id_{field}",
        hint=hint(field),
        message=LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_MESSAGE,
    )


def test_a_person_whose_age_is_in_doubt_needs_a_local_authority_whatever_their_stated_age():
    client = signed_in(responder())
    refused = client.post(INTAKE, intake_data(consent=None, age_in_doubt="on"))
    assert refused.status_code == 400
    assert LOCAL_AUTHORITY_REQUIRED_MESSAGE in refused.content.decode().replace("&#x27;", "'")
    accepted = client.post(INTAKE, intake_data(consent=None, age_in_doubt="on", local_authority=COUNCIL))
    assert accepted.status_code == 302
    assert Referral.objects.get().local_authority == COUNCIL


def test_a_child_is_referred_with_the_local_authority_and_contact():
    response = signed_in(responder()).post(
        INTAKE, intake_data(**A_CHILD, local_authority=COUNCIL, local_authority_contact=CONTACT)
    )
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.is_child
    assert (referral.local_authority, referral.local_authority_contact) == (COUNCIL, CONTACT)


def test_a_draft_keeps_the_local_authority_and_contact_and_shows_them_again():
    client = signed_in(responder())
    response = client.post(
        INTAKE,
        {
            "given_name": "Dritan",
            "local_authority": COUNCIL,
            "local_authority_contact": CONTACT,
            "action": "save_draft",
        },
    )
    assert response.status_code == 302
    draft = ReferralDraft.objects.get()
    assert (draft.data["local_authority"], draft.data["local_authority_contact"]) == (COUNCIL, CONTACT)
    html = client.get(f"{INTAKE}?draft={draft.pk}", follow=True).content.decode()
    assert f'name="local_authority" value="{COUNCIL}"' in html
    assert f'value="{escape(CONTACT)}"' in html


def test_the_case_page_shows_childrens_services_to_the_manager_referrer_and_placed_provider():
    referral, staff, boss = placed(
        age_in_doubt=True, local_authority=COUNCIL, local_authority_contact=CONTACT
    )
    for user in (boss, referral.submitted_by, staff):
        html = case_page(user, referral)
        assert f"<dt>Local authority</dt><dd>{COUNCIL}</dd>" in html
        assert f"<dt>Children&#x27;s services contact</dt><dd>{escape(CONTACT)}</dd>" in html


def test_a_provider_only_offered_the_child_sees_neither_the_local_authority_nor_the_contact():
    referral, provider, _ = offered(
        age_in_doubt=True, local_authority=COUNCIL, local_authority_contact=CONTACT
    )
    html = case_page(provider_user(provider), referral)
    assert "Local authority" not in html and COUNCIL not in html
    assert "Children&#x27;s services contact" not in html and "01632 960481" not in html


def test_a_child_referred_before_it_was_asked_shows_that_none_is_recorded_and_an_adult_no_rows():
    child = offered(age_in_doubt=True)[0]
    html = case_page(manager(), child)
    assert "<dt>Local authority</dt><dd>Not recorded</dd>" in html
    adult = offered()[0]
    assert "Local authority" not in case_page(manager(), adult)
