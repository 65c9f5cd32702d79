"""factory_boy factories for the whole suite."""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, Role, User
from care_providers.models import CareProvider, Placement
from referrals.choices import ExploitationLocation, Gender, Region, Service
from referrals.models import Referral
from referrals.services import assess_referral, offer_placement, submit_referral

PASSWORD = "correct-horse-battery-staple"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.POLICE
    notification_emails = factory.LazyAttribute(lambda o: [f"team@{o.name.lower().replace(' ', '-')}.test"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    role = Role.FIRST_RESPONDER
    organisation = factory.SubFactory(OrganisationFactory)

    @factory.post_generation
    def saved(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()


def responder(**kwargs: Any) -> User:
    return UserFactory(role=Role.FIRST_RESPONDER, **kwargs)


def manager(**kwargs: Any) -> User:
    kwargs.setdefault("organisation", contractor())
    return UserFactory(role=Role.MANAGER, **kwargs)


def contractor() -> Organisation:
    org, _ = Organisation.objects.get_or_create(
        name="Victim Care Contractor",
        defaults={"kind": OrganisationKind.CONTRACTOR, "notification_emails": ["managers@contractor.test"]},
    )
    return org


class CareProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareProvider

    organisation = factory.SubFactory(OrganisationFactory, kind=OrganisationKind.CARE_PROVIDER)
    name = factory.LazyAttribute(lambda p: p.organisation.name)
    regions = factory.LazyFunction(lambda: list(Region.values))
    services = factory.LazyFunction(lambda: [Service.ACCOMMODATION, Service.OUTREACH])
    beds_women = 5
    beds_men = 5
    beds_family = 2
    supports_children = True
    languages = factory.LazyFunction(lambda: ["en"])


def provider_admin_form(provider: CareProvider, **changes: Any) -> dict[str, Any]:
    """The provider's admin form as saved unchanged, with ``changes`` on top."""
    return {
        "organisation": provider.organisation_id,
        "name": provider.name,
        "active": "on",
        "regions": provider.regions,
        "services": provider.services,
        "beds_women": provider.beds_women,
        "beds_men": provider.beds_men,
        "beds_family": provider.beds_family,
        "supports_children": "on" if provider.supports_children else "",
        "languages": provider.languages,
        **changes,
    }


def provider_user(provider: CareProvider | None = None, **kwargs: Any) -> User:
    provider = provider or CareProviderFactory()
    return UserFactory(role=Role.CARE_PROVIDER, organisation=provider.organisation, **kwargs)


def referral_fields(**overrides: Any) -> dict[str, Any]:
    """Valid §3 fields, as a form or serializer hands them to ``submit_referral``."""
    fields: dict[str, Any] = {
        "consent": True,
        "given_name": "Amina",
        "family_name": "Haile",
        "aliases": "",
        "date_of_birth": datetime.date(1995, 3, 14),
        "age_estimate": None,
        "age_in_doubt": False,
        "gender": Gender.FEMALE,
        "local_authority": "",
        "local_authority_contact": "",
        "nationality": "ER",
        "second_nationality": "",
        "languages": ["ti", "en"],
        "interpreter_needed": True,
        "exploitation_types": ["labour"],
        "exploitation_location": ExploitationLocation.BOTH,
        "region": Region.LONDON,
        "needs_accommodation": True,
        "emergency": False,
        "needs_medical": False,
        "has_dependants": False,
        "safe_to_contact": True,
        "contact_phone": "07700 900123",
        "account": "Found working in a car wash with no pay.",
        "responder_reference": "",
        "crime_reference": "",
    }
    fields.update(overrides)
    return fields


def submitted_referral(actor: User | None = None, **overrides: Any) -> Referral:
    return submit_referral(actor=actor or responder(), fields=referral_fields(**overrides))


def offered_with_a_note(boss: User, provider: CareProvider, note: str) -> Referral:
    """A referral assessed for accommodation and offered to ``provider`` with the managers' ``note``."""
    referral = submitted_referral()
    assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk, note=note)
    return referral


def placed_since(referral: Referral, started_at: datetime.datetime) -> None:
    """Its placement began at ``started_at``: a person missing since before then must have been placed."""
    Placement.objects.filter(referral=referral, ended_at__isnull=True).update(started_at=started_at)


def aware(*args: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(*args))


def birthday_years_ago(years: int, *, days_from_today: int) -> datetime.date:
    """The date of birth whose birthday is ``days_from_today`` away and that makes ``years`` then."""
    birthday = timezone.localdate() + datetime.timedelta(days=days_from_today)
    try:
        return birthday.replace(year=birthday.year - years)
    except ValueError:  # 29 February in a year that has none
        return datetime.date(birthday.year - years, 3, 1)


def referred_as_a_child_turning_18(referral: Referral, *, days_from_today: int) -> Referral:
    """``referral`` made the case of a child by their date of birth, referred 60 days ago, whose 18th
    birthday is ``days_from_today`` away (gone if negative, by less than 60 days): a child's case
    open long enough for the birthday to come, without waiting for it."""
    assert days_from_today > -60
    Referral.objects.filter(pk=referral.pk).update(
        is_child=True,
        local_authority=referral.local_authority or "Leeds",
        date_of_birth=birthday_years_ago(18, days_from_today=days_from_today),
        submitted_at=timezone.now() - datetime.timedelta(days=60),
    )
    referral.refresh_from_db()
    return referral
