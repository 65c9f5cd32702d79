"""Personal fields are encrypted at rest, keys rotate, and a wrong key fails loudly (SPEC §10)."""

import datetime
import importlib
import secrets

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import AuthenticatorApp
from referrals import encryption, services
from referrals.encryption import DecryptionFailed, keyed_digest, name_digest
from referrals.models import Referral, ReferralDraft, TransitionLog
from referrals.selectors import get_case, likely_duplicates, possible_duplicates_of
from tests.factories import OrganisationFactory, manager, responder, submitted_referral

pytestmark = pytest.mark.django_db

PERSONAL = {
    "given_name": "Amina",
    "family_name": "Haile",
    "aliases": "Sara",
    "contact_phone": "07700 900123",
    "account": "Found working in a car wash with no pay.",
    "responder_reference": "MPS-20931",
    "crime_reference": "CR/0042/26",
    "local_authority_contact": "Duty social worker, 01632 960123",
}
# The local authority and its contact are a child's.
A_CHILD = {"age_in_doubt": True, "local_authority": "Kent County Council"}


def raw_row(table: str, pk: int, *columns: str) -> tuple:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def test_the_raw_database_row_holds_no_plaintext_personal_field():
    referral = submitted_referral(**PERSONAL, **A_CHILD)
    row = raw_row(
        "referrals_referral",
        referral.pk,
        "given_name",
        "family_name",
        "aliases",
        "contact_phone",
        "account",
        "responder_reference",
        "crime_reference",
        "local_authority",
        "local_authority_contact",
        "date_of_birth",
        "name_digest",
    )
    stored = " ".join(str(value) for value in row)
    for plaintext in [*PERSONAL.values(), A_CHILD["local_authority"], "1995-03-14", "amina"]:
        assert plaintext.lower() not in stored.lower()
    assert all(str(value).startswith("gAAAA") for value in row[:-1])
    assert Referral.objects.get(pk=referral.pk).given_name == "Amina"


def test_notes_in_the_transition_log_and_drafts_are_encrypted():
    referral = submitted_referral()
    services.assess_referral(
        referral_id=referral.pk, actor=manager(), risk="high", route="outreach", notes="Fears Haile's uncle"
    )
    log = TransitionLog.objects.get(referral=referral, transition="assess")
    draft = ReferralDraft.objects.create(
        owner=referral.submitted_by,
        data={"given_name": "Amina"},
        expires_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    )
    assert "uncle" not in raw_row("referrals_transitionlog", log.pk, "input")[0]
    assert "Amina" not in raw_row("referrals_referraldraft", draft.pk, "data")[0]
    assert TransitionLog.objects.get(pk=log.pk).input["notes"] == "Fears Haile's uncle"


def test_an_organisations_webhook_secret_is_encrypted_at_rest():
    organisation = OrganisationFactory(
        webhook_url="https://receiver.example/hook", webhook_secret="s3cret-hmac"
    )
    (stored,) = raw_row("accounts_organisation", organisation.pk, "webhook_secret")
    assert stored.startswith("gAAAA") and "s3cret" not in stored
    organisation.refresh_from_db()
    assert organisation.webhook_secret == "s3cret-hmac"


def test_rotation_re_encrypts_everything_so_the_old_key_can_be_removed(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    referral = submitted_referral(**PERSONAL, **A_CHILD)
    services.assess_referral(
        referral_id=referral.pk, actor=manager(), risk="low", route="outreach", notes="n"
    )
    before = raw_row("referrals_referral", referral.pk, "given_name")[0]

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_field_keys", batch_size=1)
    assert raw_row("referrals_referral", referral.pk, "given_name")[0] != before

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    reloaded = Referral.objects.get(pk=referral.pk)
    assert (reloaded.given_name, reloaded.contact_phone) == ("Amina", "07700 900123")
    assert reloaded.date_of_birth == datetime.date(1995, 3, 14)
    assert reloaded.local_authority_contact == PERSONAL["local_authority_contact"]
    assert reloaded.local_authority == A_CHILD["local_authority"]
    assert TransitionLog.objects.get(referral=referral, transition="assess").input["notes"] == "n"


@pytest.mark.django_db(transaction=True)  # the migrations run back and forth
def test_a_local_authority_stored_in_clear_is_encrypted_by_the_migration_and_decrypted_back():
    # Made before going back: the models are this release's, and write columns added since.
    referral = submitted_referral(age_in_doubt=True, local_authority="")
    executor = MigrationExecutor(connection)
    executor.migrate([("referrals", "0012_referral_local_authority")])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_referral SET local_authority = %s WHERE id = %s",
            ["Kent County Council", referral.pk],
        )
    MigrationExecutor(connection).migrate([("referrals", "0013_encrypt_local_authority")])
    (stored,) = raw_row("referrals_referral", referral.pk, "local_authority")
    assert stored.startswith("gAAAA") and "Kent" not in stored
    assert Referral.objects.get(pk=referral.pk).local_authority == "Kent County Council"
    MigrationExecutor(connection).migrate([("referrals", "0012_referral_local_authority")])
    assert raw_row("referrals_referral", referral.pk, "local_authority") == ("Kent County Council",)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_local_authority_written_in_clear_by_the_previous_release_is_read_and_rotation_encrypts_it():
    # During a rolling deploy a process of the release before 0013 still writes the authority in clear.
    referral = submitted_referral(**A_CHILD)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_referral SET local_authority = %s WHERE id = %s",
            ["Kent County Council", referral.pk],
        )
    assert Referral.objects.get(pk=referral.pk).local_authority == "Kent County Council"

    call_command("rotate_field_keys")

    (stored,) = raw_row("referrals_referral", referral.pk, "local_authority")
    assert stored.startswith("gAAAA") and "Kent" not in stored
    assert Referral.objects.get(pk=referral.pk).local_authority == "Kent County Council"


def test_other_fields_in_clear_and_an_authority_under_no_key_still_raise(settings):
    referral = submitted_referral(**PERSONAL, **A_CHILD)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE referrals_referral SET given_name = %s WHERE id = %s", ["Amina", referral.pk])
    with pytest.raises(DecryptionFailed):
        Referral.objects.get(pk=referral.pk)

    other = submitted_referral(**A_CHILD)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionFailed):
        Referral.objects.only("local_authority").get(pk=other.pk)


def test_rotation_re_encrypts_authenticator_keys_so_the_old_key_can_be_removed(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    device = AuthenticatorApp.objects.create(user=manager(), name="Authenticator app", confirmed=True)
    before = raw_row("accounts_authenticatorapp", device.pk, "key")[0]

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_field_keys")
    assert raw_row("accounts_authenticatorapp", device.pk, "key")[0] != before

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert AuthenticatorApp.objects.get(pk=device.pk).key == device.key


def test_rotating_twice_changes_nothing_the_second_time(settings, capsys):
    referral = submitted_referral()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_field_keys")
    after_first = raw_row("referrals_referral", referral.pk, "given_name")[0]
    capsys.readouterr()
    call_command("rotate_field_keys")
    assert raw_row("referrals_referral", referral.pk, "given_name")[0] == after_first
    assert "referrals_referral: 1 rows, 0 values re-encrypted" in capsys.readouterr().out


def test_a_wrong_key_raises_instead_of_returning_ciphertext(settings):
    referral = submitted_referral()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionFailed):
        Referral.objects.get(pk=referral.pk)


def test_rotation_without_the_old_key_stops_with_a_clear_error(settings):
    submitted_referral()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_field_keys")


def test_duplicates_are_found_through_the_keyed_digest_whatever_the_case_and_accents():
    first = submitted_referral(given_name="Amína", family_name="HAILE")
    found = likely_duplicates(
        first.submitted_by,
        given_name="amina",
        family_name="haile",
        date_of_birth=datetime.date(1995, 3, 14),
        nationality="GB",
    )
    assert list(found) == [first]
    assert not likely_duplicates(
        responder(), given_name="amina", family_name="haile", date_of_birth=None, nationality="ER"
    ).exists()


def test_duplicates_are_found_with_the_family_name_first_or_the_words_of_the_name_split_otherwise():
    first = submitted_referral(given_name="Van Minh", family_name="Nguyen", nationality="VN")

    def found(given_name, family_name):
        return list(
            likely_duplicates(
                first.submitted_by,
                given_name=given_name,
                family_name=family_name,
                date_of_birth=None,
                nationality="VN",
            )
        )

    assert found("Nguyễn", "Văn Minh") == [first]
    assert found("Minh", "Nguyễn Văn") == [first]
    assert found("Nguyen", "Minh") == []
    assert found("Van Minh", "Tran") == []


def test_a_name_corrected_is_found_in_either_order_and_no_longer_as_it_was():
    referral = submitted_referral(given_name="Van Mihn", family_name="Nguyen")
    services.correct_referral(
        referral_id=referral.pk, actor=manager(), reason="typing_error", given_name="Van Minh"
    )
    referral.given_name, referral.family_name = "Nguyen", "Van Minh"
    assert [case.pk for case in same_person_as(referral, manager())] == [referral.pk]
    referral.given_name = "Van Mihn"
    assert not same_person_as(referral, manager()).exists()


@pytest.mark.django_db(transaction=True)  # the migrations run back and forth
def test_the_migration_to_name_digests_in_any_order_recomputes_them_under_their_own_keys_and_back(settings):
    old_key = settings.FIELD_HASH_KEY
    under_old_key = submitted_referral(given_name="Van Minh", family_name="Nguyen")
    settings.FIELD_HASH_KEY = secrets.token_urlsafe(32)
    settings.FIELD_HASH_KEY_FALLBACKS = [old_key]
    under_new_key = submitted_referral(given_name="Ilir", family_name="Dushku")
    anonymised = submitted_referral()
    Referral.objects.filter(pk=anonymised.pk).update(name_digest="")

    def digests():
        return [
            raw_row("referrals_referral", case.pk, "name_digest")[0]
            for case in (under_old_key, under_new_key, anonymised)
        ]

    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("referrals", "0013_encrypt_local_authority")])
        assert digests() == [
            keyed_digest("Van Minh", "Nguyen", key=old_key),
            keyed_digest("Ilir", "Dushku"),
            "",
        ]
        executor = MigrationExecutor(connection)
        executor.migrate([("referrals", "0014_name_digest_in_any_order")])
        assert digests() == [
            name_digest("Nguyen", "Van Minh", key=old_key),
            name_digest("Dushku", "Ilir"),
            "",
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_migration_0014_digests_the_names_words_sorted_whatever_name_digest_later_becomes(monkeypatch):
    monkeypatch.setattr(encryption, "name_digest", lambda *names, key=None: "another form")
    migration = importlib.reload(
        importlib.import_module("referrals.migrations.0014_name_digest_in_any_order")
    )
    try:
        assert migration.words_in_any_order("Nguyễn", "Van Minh", key="k") == keyed_digest(
            "minh nguyen van", key="k"
        )
    finally:
        monkeypatch.undo()
        importlib.reload(migration)


def same_person_as(referral, user):
    """The intake's check for the person of ``referral``, as ``user`` would make it."""
    return likely_duplicates(
        user,
        given_name=referral.given_name,
        family_name=referral.family_name,
        date_of_birth=referral.date_of_birth,
        nationality=referral.nationality,
    )


def test_after_the_hash_key_changes_rehash_digests_makes_duplicates_found_again(settings, capsys):
    referral = submitted_referral(**PERSONAL)
    settings.FIELD_HASH_KEY = secrets.token_urlsafe(32)
    assert not same_person_as(referral, manager()).exists()

    call_command("rehash_digests", batch_size=1)

    assert list(same_person_as(referral, manager())) == [referral]
    assert "1 of 1 cases, 1 recomputed" in capsys.readouterr().out


def test_rehashing_twice_changes_nothing_the_second_time(settings, capsys):
    referral = submitted_referral()
    settings.FIELD_HASH_KEY = secrets.token_urlsafe(32)
    call_command("rehash_digests")
    after_first = raw_row("referrals_referral", referral.pk, "name_digest", "birth_date_digest")
    capsys.readouterr()
    call_command("rehash_digests")
    assert raw_row("referrals_referral", referral.pk, "name_digest", "birth_date_digest") == after_first
    assert "1 of 1 cases, 0 recomputed" in capsys.readouterr().out


def test_while_the_old_hash_key_is_a_fallback_cases_under_either_key_are_duplicates(settings):
    old_key = settings.FIELD_HASH_KEY
    first = submitted_referral(**PERSONAL)
    settings.FIELD_HASH_KEY = secrets.token_urlsafe(32)
    settings.FIELD_HASH_KEY_FALLBACKS = [old_key]
    second = submitted_referral(**PERSONAL)
    user = manager()

    assert set(same_person_as(first, user)) == {first, second}
    assert list(possible_duplicates_of(user, get_case(user, second.pk))) == [first]
    case = get_case(user, first.pk)
    assert case.has_namesake
    assert list(possible_duplicates_of(user, case)) == [second]


def deploy_check_messages():
    return checks.run_checks(include_deployment_checks=True, tags=["harbour"])


def test_the_deploy_check_passes_when_the_stored_digests_are_under_the_hash_key():
    submitted_referral()
    assert deploy_check_messages() == []


def test_the_deploy_check_flags_digests_the_configured_hash_key_did_not_make(settings):
    submitted_referral(**PERSONAL)
    settings.FIELD_HASH_KEY = secrets.token_urlsafe(32)

    [message] = deploy_check_messages()

    assert (message.id, message.level) == ("harbour.E002", checks.ERROR)
    assert "1 of 1 cases" in message.msg
    assert "Amina" not in message.msg + message.hint


def test_the_deploy_check_warns_until_digests_under_a_fallback_key_are_recomputed(settings):
    submitted_referral()
    settings.FIELD_HASH_KEY_FALLBACKS = [settings.FIELD_HASH_KEY]
    settings.FIELD_HASH_KEY = secrets.token_urlsafe(32)
    assert [message.id for message in deploy_check_messages()] == ["harbour.W001"]

    call_command("rehash_digests")

    assert deploy_check_messages() == []


def test_the_deploy_check_flags_personal_fields_no_encryption_key_decrypts(settings):
    submitted_referral()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert [message.id for message in deploy_check_messages()] == ["harbour.E001"]
