"""The notification of a correction of the person's details: the reference, a link and whether the person
is now treated as a child; never the details corrected."""

import datetime
import json

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications.delivery import EMAIL_MOMENT, claim, deliver, email_content, webhook_payload
from notifications.models import Channel, Event, InboxItem, Notification
from referrals import services
from referrals.local_time import MOMENT, local_time
from referrals.models import Deadline
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, birthday_years_ago
from tests.web.conftest import signed_in

from .conftest import personal_data_in

pytestmark = pytest.mark.django_db


def test_the_provider_hears_the_case_was_corrected_and_that_the_person_is_now_a_child():
    case = bring_to("placed")
    new_birthday = birthday_years_ago(16, days_from_today=30)
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.responder,
        reason="age_assessment",
        note="Amina Haile is 16, says the local authority.",
        family_name="Hailemariam",
        date_of_birth=new_birthday,
        local_authority="Newham",
    )
    notifications = Notification.objects.filter(referral=case.referral, event=Event.REFERRAL_CORRECTED)
    assert {row.organisation_id for row in notifications} == {
        case.provider.organisation_id,
        case.manager.organisation_id,
    }
    for notification in notifications:
        subject, body = email_content(notification)
        payload = json.dumps(webhook_payload(notification, 0))
        assert subject == f"Harbour: Details corrected – {case.referral.reference}"
        assert "Treated as a child: Yes" in body
        assert json.loads(payload)["child"] is True
        for text in (subject, body, payload):
            assert personal_data_in(text) == []
            assert "Hailemariam" not in text and new_birthday.isoformat() not in text
            assert "Newham" not in text
    messages = InboxItem.objects.filter(event=Event.REFERRAL_CORRECTED).values_list("message", flat=True)
    assert all(message == f"Details corrected: {case.referral.reference}" for message in messages)


def test_an_adult_corrected_is_said_to_be_no_child_and_other_events_carry_no_such_field():
    case = bring_to("offered")
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", given_name="Amena"
    )
    corrected = Notification.objects.get(
        referral=case.referral, event=Event.REFERRAL_CORRECTED, organisation=case.provider.organisation
    )
    assert "Treated as a child: No" in email_content(corrected)[1]
    assert webhook_payload(corrected, 0)["child"] is False
    offered = Notification.objects.filter(referral=case.referral, event=Event.OFFER_MADE).first()
    assert "child" not in webhook_payload(offered, 0)
    assert "Treated as a child" not in email_content(offered)[1]


def test_a_correction_delivered_late_says_what_it_did_not_what_a_later_one_did():
    case = bring_to("placed")
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.manager,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Newham",
    )
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="age_assessment", age_in_doubt=False
    )
    first, second = Notification.objects.filter(
        referral=case.referral, event=Event.REFERRAL_CORRECTED, organisation=case.provider.organisation
    ).order_by("sequence")
    assert webhook_payload(first, 0)["child"] is True
    assert webhook_payload(second, 0)["child"] is False


def corrected_rows(case, organisation, channel=Channel.EMAIL):
    return Notification.objects.filter(
        referral=case.referral, event=Event.REFERRAL_CORRECTED, organisation=organisation, channel=channel
    ).order_by("sequence")


def test_a_manager_moving_a_person_out_of_the_offered_providers_regions_has_the_managers_offer_again_and_the_provider_reject_it(
    settings,
):
    settings.SITE_URL = "https://harbour.example"
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"]))
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="scotland"
    )
    reference = case.referral.reference
    to_managers = (
        "The provider offered the person does not serve Scotland: withdraw the offer (provider unsuitable) "
        "and make a new one to a provider that does."
    )
    to_provider = (
        "The provider offered the person does not serve Scotland: reject the offer (unsuitable), so that the "
        "managers can offer them to a provider that does at once."
    )
    managers, provider = case.manager.organisation, case.provider.organisation
    for organisation, words in ((managers, to_managers), (provider, to_provider)):
        deliver(str(corrected_rows(case, organisation).get().pk))
        items = InboxItem.objects.filter(event=Event.REFERRAL_CORRECTED, user__organisation=organisation)
        assert set(items.values_list("message", flat=True)) == {f"Details corrected: {reference}. {words}"}
    managers_email, providers_email = mail.outbox
    happened = local_time(corrected_rows(case, managers).get().created_at, EMAIL_MOMENT)
    assert managers_email.to == ["managers@contractor.test"]
    assert managers_email.body == (
        "Details corrected\n\n"
        f"Case: {reference}\n"
        f"Happened: {happened}\n"
        "Treated as a child: No\n"
        f"{to_managers}\n"
        f"Open the case: https://harbour.example/cases/{case.referral.pk}/\n\n"
        "Sign in to Harbour to see the details.\n"
    )
    assert to_provider in providers_email.body.splitlines()
    for message in (managers_email, providers_email):
        assert case.provider.name not in message.body


def test_a_child_found_in_a_placement_for_adults_has_the_managers_reallocate_them_by_email_and_webhook():
    case = bring_to("placed", provider=CareProviderFactory(supports_children=False))
    contractor = case.manager.organisation
    contractor.webhook_url, contractor.webhook_secret = "https://managers.example/hook", "s" * 16
    contractor.save()
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.manager,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(16, days_from_today=30),
        local_authority="Newham",
    )
    webhook = claim(str(corrected_rows(case, contractor, Channel.WEBHOOK).get().pk))
    assert webhook is not None
    assert webhook_payload(webhook, 0)["misfit"] == {
        "provider_of": "placement",
        "lacking": ["children"],
        "action": "reallocate",
    }
    deliver(str(corrected_rows(case, contractor).get().pk))
    (email,) = mail.outbox
    assert (
        "The provider where they are placed does not support children: reallocate them to a provider that does."
        in email.body
    )
    providers = webhook_payload(corrected_rows(case, case.provider.organisation).get(), 0)["misfit"]
    assert providers["action"] == "phone_managers"
    assert personal_data_in(json.dumps(webhook_payload(webhook, 0))) == []


def test_a_correction_delivered_late_tells_of_the_misfit_it_left_not_that_a_later_one_mended_it():
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"]))
    for region in ("scotland", "london"):
        services.correct_referral(
            referral_id=case.referral.pk, actor=case.manager, reason="new_information", region=region
        )
    (to_managers,) = corrected_rows(case, case.manager.organisation)  # the one that fits told them nothing
    deliver(str(to_managers.pk))
    assert "does not serve Scotland: withdraw the offer" in mail.outbox[0].body
    moved, moved_back = corrected_rows(case, case.provider.organisation)
    deliver(str(moved_back.pk))
    assert "does not" not in mail.outbox[1].body
    assert webhook_payload(moved, 0)["misfit"]["region"] == "scotland"
    assert "misfit" not in webhook_payload(moved_back, 0)


def test_a_correction_that_makes_the_case_an_emergency_or_no_longer_one_tells_the_managers_and_when_it_is_now_due():
    case = bring_to("assessed")
    managers = case.manager.organisation
    for emergency in (True, False):
        services.correct_referral(
            referral_id=case.referral.pk, actor=case.responder, reason="new_information", emergency=emergency
        )
    reference = case.referral.reference
    now_one, no_longer = corrected_rows(case, managers)
    due_times = [row.due_at for row in (now_one, no_longer)]
    assert due_times[0] < due_times[1]  # within the day, then as counted from the assessment
    items = InboxItem.objects.filter(event=Event.REFERRAL_CORRECTED, user__organisation=managers)
    assert list(dict.fromkeys(items.order_by("pk").values_list("message", flat=True))) == [
        f"Details corrected: {reference}. Now an emergency: the placement is due {local_time(due_times[0], MOMENT)}",
        f"Details corrected: {reference}. No longer an emergency: the placement is due "
        f"{local_time(due_times[1], MOMENT)}",
    ]
    # Sent late, after the second correction, the first still says what it did.
    first = claim(str(now_one.pk))
    body = email_content(first)[1]
    assert f"Now an emergency: the placement is due {local_time(due_times[0], EMAIL_MOMENT)}." in body
    assert webhook_payload(first, 0)["emergency"] is True
    assert webhook_payload(first, 0)["due_at"] == due_times[0].isoformat()
    assert webhook_payload(claim(str(no_longer.pk)), 0)["emergency"] is False


def test_a_case_already_overdue_made_an_emergency_tells_the_managers_it_is_overdue_not_due():
    case = bring_to("assessed")
    due = timezone.now() - datetime.timedelta(hours=3)
    Deadline.objects.filter(referral=case.referral).update(due_at=due)
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.responder, reason="new_information", emergency=True
    )
    (row,) = corrected_rows(case, case.manager.organisation)
    overdue = f"Now an emergency: the placement was due {local_time(due, MOMENT)} and is overdue"
    assert InboxItem.objects.get(user=case.manager, event=Event.REFERRAL_CORRECTED).message.endswith(overdue)
    assert f"was due {local_time(due, EMAIL_MOMENT)} and is overdue." in email_content(claim(str(row.pk)))[1]


def test_a_correction_saying_everything_at_once_is_told_whole():
    # An overdue emergency, a child, and a region the offered provider does not serve: the longest line.
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"], supports_children=False))
    Deadline.objects.filter(referral=case.referral).update(
        due_at=timezone.now() - datetime.timedelta(hours=3)
    )
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.responder,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(16, days_from_today=30),
        local_authority="Leeds",
        region="yorkshire",
        emergency=True,
    )
    message = InboxItem.objects.get(user=case.provider_user, event=Event.REFERRAL_CORRECTED).message
    assert len(message) > 300
    assert "is overdue" in message and message.endswith("to a provider that does at once.")


def test_a_manager_making_the_case_an_emergency_tells_no_manager_and_other_corrections_carry_no_emergency():
    case = bring_to("offered")
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", emergency=True
    )
    assert not corrected_rows(case, case.manager.organisation).exists()
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.responder, reason="typing_error", given_name="Amena"
    )
    (typo,) = corrected_rows(case, case.manager.organisation)
    assert typo.emergency is None and "emergency" not in webhook_payload(typo, 0)
    assert "emergency" not in email_content(typo)[1]


def test_the_misfit_is_told_by_the_correction_that_made_it_not_again_by_later_ones():
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"], supports_children=False))
    for fields in ({"region": "scotland"}, {"needs_medical": True}, {"region": "wales"}):
        services.correct_referral(
            referral_id=case.referral.pk, actor=case.manager, reason="new_information", **fields
        )
    # The managers' own corrections tell them only of the misfit they made.
    (to_managers,) = corrected_rows(case, case.manager.organisation)
    assert to_managers.misfit == {"provider_of": "offer", "lacking": ["region"], "region": "scotland"}
    told = [row.misfit for row in corrected_rows(case, case.provider.organisation)]
    assert told == [to_managers.misfit, None, None]
    # A correction that adds a misfit to one already there tells of it.
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.manager,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Newham",
    )
    assert corrected_rows(case, case.manager.organisation).last().misfit["lacking"] == ["children", "region"]


def unread_misfits(case):
    """The correction's unread items, but for the referrer's (news of the correction)."""
    items = InboxItem.objects.filter(
        referral=case.referral, event=Event.REFERRAL_CORRECTED, read_at__isnull=True
    ).exclude(user__organisation=case.responder.organisation)
    return {(item.user.organisation_id, item.action) for item in items}


def test_a_correction_that_lets_the_provider_take_the_person_again_leaves_nothing_to_do_about_it():
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"]))
    for region in ("scotland", "london"):  # moved, then found to be in London after all
        services.correct_referral(
            referral_id=case.referral.pk, actor=case.manager, reason="new_information", region=region
        )
    # The provider's news of the second correction is left to read; nothing is asked any more.
    assert unread_misfits(case) == {(case.provider.organisation_id, "")}
    # The offer itself still waits for its answer.
    assert InboxItem.objects.filter(
        referral=case.referral, event=Event.OFFER_MADE, read_at__isnull=True
    ).exists()


def test_the_misfits_new_offer_and_rejection_are_read_once_the_offer_is_rejected_and_made_again():
    case = bring_to("offered", provider=CareProviderFactory(regions=["london"]))
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="scotland"
    )
    managers, provider = case.manager.organisation_id, case.provider.organisation_id
    assert unread_misfits(case) == {(managers, "offer_again"), (provider, "reject_offer")}
    services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="unsuitable")
    assert unread_misfits(case) == {(managers, "offer_again")}
    services.offer_placement(
        referral_id=case.referral.pk,
        actor=case.manager,
        provider_id=CareProviderFactory(regions=["scotland"]).pk,
    )
    assert unread_misfits(case) == set()


def placed_where_the_provider_no_longer_serves(state: str = "placed"):
    """A case placed (or missing from its placement) with a provider serving London only, and a
    correction that moved the person to Scotland: the managers are to reallocate them, and the provider
    to phone the managers."""
    case = bring_to(state, provider=CareProviderFactory(regions=["london"]))
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="scotland"
    )
    assert unread_misfits(case) == {
        (case.manager.organisation_id, "reallocate"),
        (case.provider.organisation_id, "phone_managers"),
    }
    return case


def reallocated_by_the_managers(case):
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")


def reallocated_by_the_provider(case):
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.provider_user, reason="other")


def recovered(case):
    services.recover_referral(referral_id=case.referral.pk, actor=case.manager, outcome="other_support")


def exited(case):
    services.exit_referral(referral_id=case.referral.pk, actor=case.manager, reason="moved_out_of_area")


@pytest.mark.parametrize(
    ("state", "ending"),
    [
        ("placed", reallocated_by_the_managers),
        ("placed", reallocated_by_the_provider),
        ("missing", reallocated_by_the_managers),
        ("placed", recovered),
        ("placed", exited),
        ("missing", exited),
    ],
    ids=[
        "reallocated by the managers",
        "reallocated by the provider",
        "reallocated while missing",
        "recovered",
        "exited",
        "exited while missing",
    ],
)
def test_the_reallocation_and_the_providers_call_to_the_managers_are_read_once_the_placement_ends(
    state, ending
):
    case = placed_where_the_provider_no_longer_serves(state)
    ending(case)
    assert unread_misfits(case) == set()


def test_the_providers_call_to_the_managers_is_read_once_a_correction_lets_it_take_the_person_again():
    case = placed_where_the_provider_no_longer_serves()
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="london"
    )
    # The provider's news of the second correction is left to read; nothing is asked any more.
    assert unread_misfits(case) == {(case.provider.organisation_id, "")}


def womens_safe_house():
    return CareProviderFactory(beds_men=0, beds_family=0)


def test_a_man_at_a_womens_safe_house_offered_him_has_the_managers_offer_again_and_the_provider_reject_it():
    case = bring_to("offered", provider=womens_safe_house())
    contractor = case.manager.organisation
    contractor.webhook_url, contractor.webhook_secret = "https://managers.example/hook", "s" * 16
    contractor.save()
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", gender="male"
    )
    managers, provider = case.manager.organisation, case.provider.organisation
    lacking = "The provider offered the person does not have any beds of the kind the person needs"
    to_managers = (
        f"{lacking}: withdraw the offer (provider unsuitable) and make a new one to a provider that does."
    )
    to_provider = (
        f"{lacking}: reject the offer (unsuitable), so that the managers can offer them to a provider"
    )
    for organisation, words in ((managers, to_managers), (provider, to_provider)):
        deliver(str(corrected_rows(case, organisation).get().pk))
        items = InboxItem.objects.filter(event=Event.REFERRAL_CORRECTED, user__organisation=organisation)
        messages = list(items.values_list("message", flat=True))
        assert messages and all(words in message for message in messages)
    assert unread_misfits(case) == {(managers.pk, "offer_again"), (provider.pk, "reject_offer")}
    managers_email, providers_email = mail.outbox
    assert to_managers in managers_email.body and to_provider in providers_email.body
    # Which kind of bed, and so the person's gender, stays on the case page: the webhook has the code.
    webhook = claim(str(corrected_rows(case, contractor, Channel.WEBHOOK).get().pk))
    assert webhook is not None
    assert webhook_payload(webhook, 0)["misfit"] == {
        "provider_of": "offer",
        "lacking": ["beds"],
        "action": "offer_again",
    }


def test_a_correction_back_to_a_bed_the_provider_has_leaves_nothing_to_do_about_it():
    case = bring_to("offered", provider=womens_safe_house())
    managers, provider = case.manager.organisation_id, case.provider.organisation_id
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", gender="male"
    )
    assert unread_misfits(case) == {(managers, "offer_again"), (provider, "reject_offer")}
    services.correct_referral(  # mistyped, then put right
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", gender="female"
    )
    assert unread_misfits(case) == {(provider, "")}


def test_a_family_found_at_a_placement_without_family_rooms_has_the_managers_reallocate_them():
    case = bring_to("placed", provider=womens_safe_house())
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", has_dependants=True
    )
    (to_managers,) = corrected_rows(case, case.manager.organisation)
    assert to_managers.misfit == {"provider_of": "placement", "lacking": ["beds"]}
    assert unread_misfits(case) == {
        (case.manager.organisation_id, "reallocate"),
        (case.provider.organisation_id, "phone_managers"),
    }


def test_a_man_offered_to_a_provider_whose_beds_for_men_are_all_taken_is_no_misfit():
    provider = CareProviderFactory(beds_men=1)
    case = bring_to("offered", provider=provider)
    bring_to("placed", provider=provider, gender="male")  # its one bed for men
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", gender="male"
    )
    # The managers' own correction tells them nothing: a bed for men may be free in time.
    assert not corrected_rows(case, case.manager.organisation).exists()
    assert corrected_rows(case, case.provider.organisation).get().misfit is None
    assert unread_misfits(case) == {(case.provider.organisation_id, "")}


def test_the_placed_provider_is_told_to_phone_the_managers_as_its_case_page_tells_it(settings):
    settings.MANAGERS_DUTY_PHONE = "020 7946 0999"
    case = bring_to("placed", provider=CareProviderFactory(supports_children=False))
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.manager,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Newham",
    )
    words = "Phone the managers on 020 7946 0999: they will reallocate them to a provider that does."
    item = InboxItem.objects.get(user=case.provider_user, event=Event.REFERRAL_CORRECTED)
    assert item.message.endswith(f"does not support children: {words[0].lower()}{words[1:]}")
    page = signed_in(case.provider_user).get(reverse("referrals:case", args=[case.referral.pk]))
    assert (
        words.replace("020 7946 0999", '<a href="tel:02079460999">020 7946 0999</a>') in page.content.decode()
    )


def as_before_the_action_code(case):
    """The case's calls to the managers as the release before their code left them: no code, and unread
    whatever became of the case."""
    InboxItem.objects.filter(referral=case.referral, action="phone_managers").update(action="", read_at=None)


def providers_call(case):
    """The placed provider's item asking it to phone the managers: its code and whether it is read."""
    item = InboxItem.objects.get(
        user=case.provider_user, referral=case.referral, message__contains="where they are placed does not"
    )
    return item.action, item.read_at


def migrate_to(name):
    executor = MigrationExecutor(connection)
    executor.migrate([("notifications", name)] if name else executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)  # the migrations run back and forth
def test_the_migration_gives_the_providers_earlier_calls_to_the_managers_their_code_and_reads_those_done():
    waiting = placed_where_the_provider_no_longer_serves()
    reallocated = placed_where_the_provider_no_longer_serves()
    reallocated_by_the_managers(reallocated)
    exited_while_missing = placed_where_the_provider_no_longer_serves("missing")
    exited(exited_while_missing)
    fits_again = placed_where_the_provider_no_longer_serves()
    services.correct_referral(
        referral_id=fits_again.referral.pk,
        actor=fits_again.manager,
        reason="new_information",
        region="london",
    )
    read_already = placed_where_the_provider_no_longer_serves()
    reallocated_by_the_managers(read_already)
    cases = (waiting, reallocated, exited_while_missing, fits_again, read_already)
    for case in cases:
        as_before_the_action_code(case)
    read_at = timezone.now() - datetime.timedelta(hours=1)  # read by the provider, before it was over
    InboxItem.objects.filter(user=read_already.provider_user).update(read_at=read_at)
    # Items of no code that ask something else, or ask someone else: the migration leaves them be.
    offered = bring_to("offered", provider=CareProviderFactory(regions=["london"]))
    services.correct_referral(
        referral_id=offered.referral.pk, actor=offered.manager, reason="new_information", region="scotland"
    )
    asking_others = list(
        InboxItem.objects.filter(
            Q(referral=waiting.referral, action="reallocate")
            | Q(referral=offered.referral, action="reject_offer")
        ).values_list("pk", flat=True)
    )
    InboxItem.objects.filter(pk__in=asking_others).update(action="")
    untouched = {
        row.pk: (row.action, row.read_at)
        for row in InboxItem.objects.filter(action="").exclude(message__contains="phone the managers")
    }
    assert len(asking_others) == 2 and set(asking_others) < set(untouched)  # with news that asks nothing
    try:
        for _ in range(2):  # run again, as after an interruption: nothing changes
            migrate_to("0019_inboxitem_action")
            migrate_to("0020_phone_managers_items_before_their_code")
            assert providers_call(waiting) == ("phone_managers", None)  # the person is still to reallocate
            for done in (reallocated, exited_while_missing, fits_again):
                action, read = providers_call(done)
                assert action == "phone_managers" and read is not None
            assert providers_call(read_already) == ("phone_managers", read_at)
            assert {
                row.pk: (row.action, row.read_at) for row in InboxItem.objects.filter(pk__in=untouched)
            } == untouched
        # Backwards, nothing is undone: the release before ignores the code.
        migrate_to("0019_inboxitem_action")
        assert providers_call(waiting) == ("phone_managers", None)
    finally:
        migrate_to(None)


NOT_SAFE_WORDS = "no longer safe to contact directly — do not phone the person"


def test_a_referrer_making_the_person_unsafe_to_contact_tells_the_provider_not_to_phone_them_without_the_number(
    webhook_receiver,
):
    provider = CareProviderFactory(
        organisation__webhook_url=webhook_receiver.url, organisation__webhook_secret="s" * 16
    )
    case = bring_to("placed", provider=provider)
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.responder,
        reason="new_information",
        safe_to_contact=False,
        contact_phone="",
        note="Amina Haile's phone, 07700 900123, is with the exploiter now.",
    )
    reference = case.referral.reference
    item = InboxItem.objects.get(user=case.provider_user, event=Event.REFERRAL_CORRECTED)
    assert item.message == f"Details corrected: {reference}: {NOT_SAFE_WORDS}"
    for row in corrected_rows(case, provider.organisation):
        deliver(str(row.pk))
    for row in corrected_rows(case, provider.organisation, Channel.WEBHOOK):
        deliver(str(row.pk))
    (email,) = mail.outbox
    assert email.subject == f"Harbour: Details corrected – {reference}: {NOT_SAFE_WORDS}"
    assert "No longer safe to contact directly — do not phone the person." in email.body.splitlines()
    (hook,) = webhook_receiver.received
    assert json.loads(hook.body)["contact"] == "not_safe"
    for text in (item.message, email.subject, email.body, hook.body.decode()):
        assert personal_data_in(text) == []
        assert "900123" not in text and "exploiter" not in text


def test_a_changed_phone_number_tells_the_provider_not_to_use_the_one_it_had():
    case = bring_to("placed")
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.manager,
        reason="new_information",
        contact_phone="07700 900456",
    )
    item = InboxItem.objects.get(user=case.provider_user, event=Event.REFERRAL_CORRECTED)
    words = "contact phone changed — do not use the number you had"
    assert item.message == f"Details corrected: {case.referral.reference}: {words}"
    (row,) = corrected_rows(case, case.provider.organisation)
    assert webhook_payload(row, 0)["contact"] == "phone_changed"
    subject, body = email_content(row)
    for text in (item.message, subject, body, json.dumps(webhook_payload(row, 0))):
        assert personal_data_in(text) == [] and "900456" not in text


def test_a_number_given_where_there_was_none_and_other_corrections_say_nothing_of_phoning():
    case = bring_to("placed", safe_to_contact=False, contact_phone="")
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.responder,
        reason="new_information",
        safe_to_contact=True,
        contact_phone="07700 900456",
    )
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.responder, reason="typing_error", given_name="Amena"
    )
    messages = InboxItem.objects.filter(user=case.provider_user, event=Event.REFERRAL_CORRECTED)
    assert set(messages.values_list("message", flat=True)) == {
        f"Details corrected: {case.referral.reference}"
    }
    for row in corrected_rows(case, case.provider.organisation):
        assert "contact" not in webhook_payload(row, 0)
        assert "phone" not in " ".join(email_content(row)).lower()
