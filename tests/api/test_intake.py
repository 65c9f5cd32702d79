"""Submitting referrals and anonymous notifications through the API (SPEC §3)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from referrals.choices import language_names
from referrals.models import AnonymousNotification, Referral
from referrals.phone_numbers import PHONE_TOO_LONG_MESSAGE
from referrals.validation import (
    ANONYMOUS_AGE_FIELD_MESSAGE,
    ANONYMOUS_PERSONAL_FIELD_MESSAGE,
    LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_IN_THE_API,
    LOCAL_AUTHORITY_REQUIRED_MESSAGE,
)
from tests.factories import birthday_years_ago, manager, provider_user, referral_fields, responder

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals/"


def as_json(**overrides):
    fields = referral_fields(**overrides)
    if hasattr(fields["date_of_birth"], "isoformat"):
        fields["date_of_birth"] = fields["date_of_birth"].isoformat()
    return fields


TWENTY_ONE_LANGUAGES = sorted(language_names())[:21]


def submit(api, user=None, **overrides):
    return api(user or responder()).post(URL, as_json(**overrides), format="json")


def test_create_returns_the_received_referral_with_the_submitted_fields(api):
    sent = as_json()
    response = api(responder()).post(URL, sent, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "received"
    assert body["reference"].startswith("HBR-")
    assert body["is_child"] is False
    assert isinstance(body["id"], int)
    for field, value in sent.items():
        assert body[field] == value, field
    assert [d["clock"] for d in body["deadlines"]] == ["assessment"]
    assert Referral.objects.get(pk=body["id"]).transitions.get().transition == "submit"


def test_a_child_needs_no_consent_and_is_flagged(api):
    response = submit(
        api, consent=False, date_of_birth=None, age_estimate=15, local_authority="Kent County Council"
    )
    assert response.status_code == 201
    assert response.json()["is_child"] is True


def test_an_age_in_doubt_is_treated_as_a_child(api):
    response = submit(api, consent=False, age_in_doubt=True, local_authority="Kent County Council")
    assert response.status_code == 201
    assert response.json()["is_child"] is True


@pytest.mark.parametrize(
    ("date_of_birth", "age_estimate"),
    [("1996-03-14", 16), ("2015-06-01", 30)],
    ids=["adult-by-birth-child-by-estimate", "child-by-birth-adult-by-estimate"],
)
def test_a_date_of_birth_and_an_estimate_that_disagree_are_refused_unless_the_age_is_in_doubt(
    api, date_of_birth, age_estimate
):
    ages = {
        "date_of_birth": date_of_birth,
        "age_estimate": age_estimate,
        "local_authority": "Kent County Council",
    }
    response = submit(api, consent=False, **ages)
    assert response.status_code == 400, response.json()
    assert response.json()["age_estimate"] == [
        f"The date of birth and the age estimate of {age_estimate} disagree on whether the person is under "
        "18. If you believe they may be a child, set age_in_doubt to true to keep both. "
        "Otherwise put right whichever is wrong, or clear the estimate if the date of birth is right."
    ]
    assert not Referral.objects.exists()

    response = submit(api, consent=False, age_in_doubt=True, **ages)
    assert response.status_code == 201, response.json()
    assert response.json()["is_child"] is True
    assert (response.json()["date_of_birth"], response.json()["age_estimate"]) == (
        date_of_birth,
        age_estimate,
    )


def test_html_in_free_text_is_stored_as_typed(api):
    account = '<script>alert("x")</script> & <b>bold</b>'
    response = submit(api, account=account, given_name="<i>Amina</i>")
    assert response.status_code == 201
    referral = Referral.objects.get(pk=response.json()["id"])
    assert referral.account == account and referral.given_name == "<i>Amina</i>"
    assert response.json()["account"] == account


def test_repeated_languages_and_exploitation_types_are_kept_once(api):
    response = submit(api, languages=["en", "ti", "en"], exploitation_types=["labour", "labour"])
    assert response.status_code == 201
    referral = Referral.objects.get()
    assert (referral.languages, referral.exploitation_types) == (["en", "ti"], ["labour"])


def test_a_language_sent_many_times_counts_once_towards_the_limit(api):
    response = submit(api, languages=["en"] * 21 + ["ti"] * 500)
    assert response.status_code == 201, response.json()
    assert Referral.objects.get().languages == ["en", "ti"]


def test_an_unknown_code_sent_many_times_is_refused_once(api):
    response = submit(api, exploitation_types=["labour"] + ["piracy"] * 500)
    assert response.status_code == 400
    assert len(response.json()["exploitation_types"]) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"emergency": True, "needs_accommodation": False}, "emergency"),
        ({"consent": False}, "consent"),
        ({"local_authority": "Leeds"}, "local_authority"),
    ],
)
def test_the_apis_refusals_name_its_json_fields_not_the_forms_boxes(api, overrides, field):
    message = submit(api, **overrides).json()[field][0]
    assert "tick" not in message.lower() and "“" not in message
    assert "_" in message  # a JSON field's name: needs_accommodation, age_in_doubt, local_authority…


def test_codes_sent_in_another_case_are_stored_as_iso_writes_them(api):
    response = submit(api, nationality=" al ", second_nationality="Stateless", languages=["SQ", "En", "sq"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["nationality"], body["second_nationality"], body["languages"]) == (
        "AL",
        "stateless",
        ["sq", "en"],
    )
    referral = Referral.objects.get()
    assert (referral.nationality, referral.second_nationality, referral.languages) == (
        "AL",
        "stateless",
        ["sq", "en"],
    )


@pytest.mark.parametrize("sent", ["UK", "uk"])
def test_uk_is_refused_with_the_united_kingdoms_code(api, sent):
    response = submit(api, nationality=sent)
    assert response.status_code == 400
    assert response.json()["nationality"] == [
        "“UK” is not a nationality code: the United Kingdom's ISO 3166 code is GB."
    ]


def test_unknown_fields_are_ignored(api):
    response = api(responder()).post(URL, {**as_json(), "favourite_colour": "blue"}, format="json")
    assert response.status_code == 201
    assert "favourite_colour" not in response.json()


@pytest.mark.parametrize(
    ("person", "is_child"),
    [
        pytest.param({}, False, id="an-adult-sent-as-a-child"),
        pytest.param(
            {
                "consent": False,
                "date_of_birth": None,
                "age_estimate": 15,
                "local_authority": "Kent County Council",
            },
            True,
            id="a-child-sent-as-an-adult",
        ),
    ],
)
def test_a_create_ignores_the_state_reference_and_is_child_it_is_sent(api, person, is_child):
    sent = {**as_json(**person), "state": "placed", "reference": "HBR-1999-000001", "is_child": not is_child}
    response = api(responder()).post(URL, sent, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    referral = Referral.objects.get(pk=body["id"])
    assert body["state"] == referral.state == "received"
    assert body["is_child"] is referral.is_child is is_child
    assert body["reference"] == referral.reference
    assert referral.reference.startswith(f"HBR-{timezone.localdate().year}-")


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"consent": False}, "consent", "set consent to true"),
        ({"nationality": "XX"}, "nationality", "nationality code"),
        ({"second_nationality": "Narnia"}, "second_nationality", "nationality code"),
        ({"nationality": "AL", "second_nationality": "AL"}, "second_nationality", "same as the first"),
        ({"languages": ["en", "klingon"]}, "languages", "ISO 639-1"),
        ({"languages": []}, "languages", "at least one"),
        ({"exploitation_types": ["piracy"]}, "exploitation_types", "not a type of exploitation"),
        ({"exploitation_types": []}, "exploitation_types", "at least one"),
        ({"date_of_birth": None, "age_estimate": None}, "date_of_birth", "age estimate"),
        ({"date_of_birth": None, "age_estimate": 121}, "age_estimate", "between 0 and 120"),
        ({"date_of_birth": None, "age_estimate": -1}, "age_estimate", "between 0 and 120"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "past"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth", "over 120"),
        ({"account": "x" * 15_001}, "account", "15,000"),
        ({"given_name": "x" * 101}, "given_name", "100"),
        ({"aliases": "x" * 201}, "aliases", "200"),
        ({"crime_reference": "x" * 51}, "crime_reference", "50"),
        ({"gender": "robot"}, "gender", "is not one of: female, male, other, unknown"),
        ({"region": "atlantis"}, "region", "is not one of: north_east, north_west"),
        ({"languages": TWENTY_ONE_LANGUAGES}, "languages", "at most 20 languages"),
        ({"languages": ["en"] * 1001}, "languages", "at most 1,000 items"),
        ({"contact_phone": "0770", "safe_to_contact": False}, "contact_phone", "safe"),
        ({"contact_phone": "not a phone ###"}, "contact_phone", "at least 7 digits"),
        ({"contact_phone": "0770 90"}, "contact_phone", "at least 7 digits"),
        ({"emergency": True, "needs_accommodation": False}, "emergency", "set needs_accommodation to true"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_input_is_a_400_that_names_the_field_and_says_what_to_do(api, overrides, field, says):
    response = submit(api, **overrides)
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert says in " ".join(errors[field])
    assert not Referral.objects.exists()


def test_a_body_wrong_in_several_ways_gets_every_error_in_one_400(api):
    response = submit(
        api,
        consent=False,
        nationality="xx",
        languages=["zz"],
        region="mars",
        gender="robot",
        needs_accommodation=False,
        emergency=True,
        safe_to_contact=False,
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {
        "consent",
        "nationality",
        "languages",
        "region",
        "gender",
        "emergency",
        "contact_phone",
    }
    assert "“zz” is not an ISO 639-1 language code" in " ".join(errors["languages"])
    assert not Referral.objects.exists()


def test_a_field_left_out_is_named_beside_the_rules_the_other_fields_break(api):
    fields = as_json(languages=["zz"], safe_to_contact=False)
    del fields["region"]
    response = api(responder()).post(URL, fields, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"region", "languages", "contact_phone"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"safe_to_contact": "perhaps"}, "safe_to_contact"),  # the phone rule needs it
        ({"needs_accommodation": "perhaps", "emergency": True}, "needs_accommodation"),
        ({"age_in_doubt": "perhaps", "consent": False}, "age_in_doubt"),  # the consent rule needs it
        ({"date_of_birth": "not a date", "consent": False}, "date_of_birth"),
        ({"languages": "ti"}, "languages"),
        ({"nationality": ["ER"], "second_nationality": "ER"}, "nationality"),
        ({"exploitation_types": {"labour": True}}, "exploitation_types"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_rule_that_needs_a_field_that_could_not_be_read_waits_for_it(api, overrides, field):
    response = submit(api, **overrides)
    assert response.status_code == 400
    assert set(response.json()) == {field}


def test_an_emergency_needing_accommodation_is_accepted(api):
    response = submit(api, emergency=True, needs_accommodation=True)
    assert response.status_code == 201, response.json()
    assert response.json()["emergency"] is True


def test_a_phone_number_of_50_characters_is_kept_and_a_longer_one_refused_as_on_the_web(api):
    assert submit(api, contact_phone="0" * 50).status_code == 201
    response = submit(api, contact_phone="0" * 51)
    assert response.status_code == 400
    assert response.json()["contact_phone"] == [PHONE_TOO_LONG_MESSAGE]


@pytest.mark.parametrize(
    "phone", ["+44 (0)7700 900123", "07700-900-123 ext 12", "0161 496 0000 after 6pm", "4960000"]
)
def test_a_phone_number_written_as_people_write_it_is_kept_as_typed(api, phone):
    response = submit(api, contact_phone=phone)
    assert response.status_code == 201, response.json()
    assert Referral.objects.get().contact_phone == phone


def test_a_person_aged_120_whose_birthday_is_still_to_come_is_accepted(api):
    date_of_birth = birthday_years_ago(121, days_from_today=1)  # 120 today, 121 tomorrow
    response = submit(api, date_of_birth=date_of_birth.isoformat())
    assert response.status_code == 201, response.json()


def test_a_person_aged_121_is_refused_as_over_120(api):
    response = submit(api, date_of_birth=birthday_years_ago(121, days_from_today=0).isoformat())
    assert response.status_code == 400
    assert "over 120" in " ".join(response.json()["date_of_birth"])


def test_an_account_of_exactly_15000_characters_is_accepted(api):
    assert submit(api, account="x" * 15_000).status_code == 201


def test_a_missing_required_field_is_named(api):
    fields = as_json()
    del fields["given_name"]
    response = api(responder()).post(URL, fields, format="json")
    assert response.status_code == 400
    assert "given_name" in response.json()


@pytest.mark.parametrize("role", ["manager", "provider"])
def test_only_first_responders_submit(api, role):
    user = manager() if role == "manager" else provider_user()
    response = submit(api, user)
    assert response.status_code == 403
    assert not Referral.objects.exists()


def test_role_is_checked_before_input(api):
    response = api(manager()).post(URL, {"given_name": ""}, format="json")
    assert response.status_code == 403


# ---------------------------------------------------------------------------- anonymous notifications

ANON_URL = "/api/v1/anonymous-notifications/"
ANONYMOUS = {
    "gender": "male",
    "nationality": "VN",
    "exploitation_types": ["labour", "criminal"],
    "region": "wales",
}


def test_an_anonymous_notification_is_recorded_without_personal_details(api):
    user = responder()
    response = api(user).post(ANON_URL, ANONYMOUS, format="json")
    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in ANONYMOUS} == ANONYMOUS
    assert body["organisation"] == user.organisation_id
    notification = AnonymousNotification.objects.get()
    assert notification.submitted_by == user
    assert not Referral.objects.exists()
    audited = AuditEvent.objects.get(what=f"anonymous notification {notification.pk} submitted")
    assert (audited.actor, audited.action, audited.changes) == (user, AuditAction.CHANGE, {"region": "wales"})
    assert audited.ip_address is not None


def test_an_anonymous_notification_takes_a_nationality_in_any_case(api):
    response = api(responder()).post(ANON_URL, {**ANONYMOUS, "nationality": "vn"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["nationality"] == "VN" == AnonymousNotification.objects.get().nationality


def test_an_anonymous_notification_keeps_each_exploitation_type_once(api):
    sent = {**ANONYMOUS, "exploitation_types": ["labour"] * 500 + ["criminal", "labour"]}
    response = api(responder()).post(ANON_URL, sent, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["exploitation_types"] == ["labour", "criminal"]
    assert AnonymousNotification.objects.get().exploitation_types == ["labour", "criminal"]


def test_an_anonymous_notification_refuses_a_list_no_client_would_send(api):
    sent = {**ANONYMOUS, "exploitation_types": ["labour"] * 5000}
    response = api(responder()).post(ANON_URL, sent, format="json")
    assert response.status_code == 400
    assert response.json()["exploitation_types"] == ["Send each code once, and at most 1,000 items."]
    assert not AnonymousNotification.objects.exists()


@pytest.mark.parametrize(
    "personal",
    [
        {"given_name": "Minh"},
        {"family_name": "Nguyen"},
        {"date_of_birth": "1990-01-01"},
        {"contact_phone": "07700 900123"},
        {"aliases": "M"},
        {"account": "Found in a cannabis farm."},
        {"responder_reference": "PC-4471"},
        {"crime_reference": "CRIME-2026-0042"},
        {"local_authority_contact": "Duty social worker, 01632 960000"},
        {"first_name": "Minh"},
        {"surname": "Nguyen"},
        {"dob": "1990-01-01"},
        {"mobile": "07700 900123"},
    ],
    ids=lambda personal: next(iter(personal)),
)
def test_an_anonymous_notification_refuses_any_personal_field(api, personal):
    response = api(responder()).post(ANON_URL, {**ANONYMOUS, **personal}, format="json")
    assert response.status_code == 400
    field = next(iter(personal))
    assert "make a referral instead" in response.json()[field][0]
    assert not AnonymousNotification.objects.exists()


@pytest.mark.parametrize(
    "age",
    [
        {"is_child": True},
        {"age_in_doubt": True},
        {"age": 16},
        {"age_estimate": 30},
        {"is_minor": False},
        {"under_18": True},
        {"local_authority": "Kent County Council"},
    ],
    ids=lambda age: next(iter(age)),
)
def test_an_anonymous_notification_refuses_any_age_saying_a_child_is_referred_not_notified(api, age):
    response = api(responder()).post(ANON_URL, {**ANONYMOUS, **age}, format="json")
    assert response.status_code == 400
    assert response.json() == {next(iter(age)): [ANONYMOUS_AGE_FIELD_MESSAGE]}
    assert (
        "a child, or anyone who may be under 18, must be referred, not notified"
        in ANONYMOUS_AGE_FIELD_MESSAGE
    )
    assert not AnonymousNotification.objects.exists()


@pytest.mark.parametrize(
    "other",
    [
        {"Given_Name": "John"},
        {"givenName": "John"},
        {"Date Of Birth": "1990-01-01"},
        {"notes": "John Smith"},
        {"name": "John"},
        {"client_reference": "CRM-118"},
        {"consent": False},
        {"state": "placed"},
        {"": "John"},
    ],
    ids=lambda other: next(iter(other)) or "blank",
)
def test_an_anonymous_notification_refuses_any_field_not_its_own_as_it_refuses_a_name(api, other):
    response = api(responder()).post(ANON_URL, {**ANONYMOUS, **other}, format="json")
    assert response.status_code == 400
    assert response.json() == {next(iter(other)): [ANONYMOUS_PERSONAL_FIELD_MESSAGE]}
    assert not AnonymousNotification.objects.exists()


@pytest.mark.parametrize(
    "age", [{"Age": 16}, {"isChild": True}, {"Age-Estimate": 30}], ids=lambda age: next(iter(age))
)
def test_an_anonymous_notification_refuses_an_age_under_another_spelling_as_an_age(api, age):
    response = api(responder()).post(ANON_URL, {**ANONYMOUS, **age}, format="json")
    assert response.status_code == 400
    assert response.json() == {next(iter(age)): [ANONYMOUS_AGE_FIELD_MESSAGE]}


def test_an_anonymous_notification_says_how_to_spell_its_own_field_written_otherwise(api):
    sent = {**{key: value for key, value in ANONYMOUS.items() if key != "gender"}, "Gender": "male"}
    response = api(responder()).post(ANON_URL, sent, format="json")
    assert response.status_code == 400
    assert response.json()["Gender"] == [
        "An anonymous notification has no field “Gender”: send it as gender."
    ]
    assert "gender" in response.json()


def test_an_anonymous_notification_ignores_its_own_fields_that_harbour_sets(api):
    user = responder()
    sent = {**ANONYMOUS, "id": 999, "organisation": 12345, "submitted_at": "2020-01-01T00:00:00Z"}
    response = api(user).post(ANON_URL, sent, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["organisation"] == user.organisation_id
    assert response.json()["id"] != 999 and not response.json()["submitted_at"].startswith("2020")


def test_an_anonymous_notification_refused_a_field_is_not_replayed_as_the_same_request(api):
    client = api(responder())
    assert client.post(ANON_URL, ANONYMOUS, format="json", HTTP_IDEMPOTENCY_KEY="anon-1").status_code == 201
    again = client.post(
        ANON_URL, {**ANONYMOUS, "notes": "John Smith"}, format="json", HTTP_IDEMPOTENCY_KEY="anon-1"
    )
    assert again.status_code == 409
    assert again.json()["code"] == "idempotency_key_reused"
    assert AnonymousNotification.objects.count() == 1


def test_an_anonymous_notification_names_personal_fields_even_beside_other_errors(api):
    response = api(responder()).post(ANON_URL, {"given_name": "Minh", "gender": "robot"}, format="json")
    assert response.status_code == 400
    assert {"given_name", "gender", "nationality"} <= set(response.json())


def test_an_anonymous_notification_names_a_bad_code_beside_a_bad_choice(api):
    wrong = {**ANONYMOUS, "nationality": "XX", "exploitation_types": ["piracy"], "region": "mars"}
    response = api(responder()).post(ANON_URL, wrong, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"nationality", "exploitation_types", "region"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"nationality": "XX"}, "nationality"), ({"exploitation_types": ["piracy"]}, "exploitation_types")],
)
def test_an_anonymous_notification_checks_its_codes(api, overrides, field):
    response = api(responder()).post(ANON_URL, {**ANONYMOUS, **overrides}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_anonymous_notifications_are_listed_to_their_organisation_and_managers(api):
    mine, theirs = responder(), responder()
    api(mine).post(ANON_URL, ANONYMOUS, format="json")
    assert api(mine).get(ANON_URL).json()["count"] == 1
    assert api(theirs).get(ANON_URL).json()["count"] == 0
    assert api(manager()).get(ANON_URL).json()["count"] == 1
    assert api(provider_user()).get(ANON_URL).status_code == 403
    assert api(manager()).post(ANON_URL, ANONYMOUS, format="json").status_code == 403


# ---------------------------------------------------------------------- a child's children's services

COUNCIL = "London Borough of Hillingdon"
CONTACT = "Priya Shah, duty social worker, 01632 960215"


@pytest.mark.parametrize(
    "age",
    [
        pytest.param({"date_of_birth": None, "age_estimate": 15}, id="by-estimate"),
        pytest.param({"date_of_birth": "2012-01-01"}, id="by-date-of-birth"),
        pytest.param({"age_in_doubt": True}, id="an-adult-by-date-of-birth-in-doubt"),
    ],
)
def test_a_child_without_a_local_authority_is_refused_saying_to_tell_childrens_services_first(api, age):
    response = submit(api, consent=False, local_authority_contact=CONTACT, **age)
    assert response.status_code == 400
    assert response.json() == {"local_authority": [LOCAL_AUTHORITY_REQUIRED_MESSAGE]}
    assert not Referral.objects.exists()


def test_a_child_with_a_local_authority_is_created_and_shows_it_to_the_referrer_and_managers(api):
    response = submit(
        api, consent=False, age_in_doubt=True, local_authority=COUNCIL, local_authority_contact=CONTACT
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["is_child"], body["local_authority"], body["local_authority_contact"]) == (
        True,
        COUNCIL,
        CONTACT,
    )
    referral = Referral.objects.get()
    assert (referral.local_authority, referral.local_authority_contact) == (COUNCIL, CONTACT)
    for user in (referral.submitted_by, manager()):
        shown = api(user).get(f"{URL}{referral.pk}/").json()
        assert (shown["local_authority"], shown["local_authority_contact"]) == (COUNCIL, CONTACT)
        listed = api(user).get(URL).json()["results"][0]
        assert (listed["local_authority"], listed["local_authority_contact"]) == (COUNCIL, CONTACT)


@pytest.mark.parametrize(
    "sent",
    [
        {"local_authority": COUNCIL},
        {"local_authority_contact": CONTACT},
        {"local_authority": COUNCIL, "local_authority_contact": CONTACT},
    ],
)
def test_an_adult_with_a_local_authority_or_contact_is_refused_on_each_field(api, sent):
    response = submit(api, **sent)
    assert response.status_code == 400
    assert response.json() == dict.fromkeys(sent, [LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_IN_THE_API])


def test_an_adult_leaves_both_empty(api):
    response = submit(api)
    assert response.status_code == 201
    assert (response.json()["local_authority"], response.json()["local_authority_contact"]) == ("", "")


def test_a_local_authority_is_not_guessed_at_while_the_age_cannot_be_read(api):
    response = submit(api, date_of_birth="not a date", local_authority=COUNCIL)
    assert response.status_code == 400
    assert set(response.json()) == {"date_of_birth"}
