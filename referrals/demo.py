"""Demo data (SPEC §9): the fixed organisations, providers and users, and N realistic referrals.

The fixed data is created or updated by name, so seeding twice never duplicates it. Referrals are
generated as whole case histories (transition log, offers, placements, deadlines) consistent with the
§4 workflow and written in batches with ``bulk_create``: the per-referral services would take hours for
a million cases. Proportions follow the published NRM statistics (DOMAIN.md §5): about three in four
referrals are male, about 44% are children, the UK, Albania, Vietnam, Eritrea and Sudan lead the
nationalities, labour and criminal exploitation lead the types, and volumes grow year on year.

Personal fields are encrypted at rest by their model fields, on the way into ``bulk_create``, as when a
service saves them. Two shortcuts keep a million cases (some ten rows each) to minutes rather than hours:
rows are built without ``Model.__init__`` (see ``_row``), and while seeding, each distinct fictitious
plaintext is encrypted once and its token reused (``reused_ciphertexts``); every stored value is still
a valid Fernet token under the configured keys.
"""

from __future__ import annotations

import bisect
import datetime
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.db import reset_queries, transaction
from django.db.models import Count, Model
from django.db.models.base import ModelState
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, Role, User
from care_providers.models import CareProvider, OfferState, Placement, PlacementOffer
from care_providers.services import provider_misfits

from . import encryption
from .choices import (
    BedKind,
    CorrectionReason,
    DeclineReason,
    ExitReason,
    ExploitationLocation,
    Gender,
    RecoveryOutcome,
    Region,
    RejectReason,
    RevokeOfferReason,
    Risk,
    Route,
    Service,
    WithdrawReason,
    nation_of,
)
from .choices import ReferralState as S
from .deadlines import due_at, reminder_at, working_days_of
from .encryption import keyed_digest, name_digest
from .models import AnonymousNotification, Clock, Deadline, Referral, TransitionLog
from .references import format_reference, reserve_numbers
from .services import is_child
from .validation import CORRECTABLE_FIELDS

ALL_REGIONS = [region.value for region in Region]
DEMO_USERNAMES = ("responder", "responder2", "manager", "provider", "provider2")
# Cases submitted in the last four days, at the least: a triage queue and offers waiting.
RECENT_CASES = 20

# ------------------------------------------------------------------------------------- fixed data


@dataclass(frozen=True)
class OrganisationSpec:
    name: str
    kind: str
    home_region: str | None  # None: a national body, referring from every region
    weight: float  # share of referrals it submits, within its kind


FIRST_RESPONDERS = [
    OrganisationSpec("Metropolitan Police Service", OrganisationKind.POLICE, Region.LONDON, 5),
    OrganisationSpec("West Midlands Police", OrganisationKind.POLICE, Region.WEST_MIDLANDS, 3),
    OrganisationSpec("Greater Manchester Police", OrganisationKind.POLICE, Region.NORTH_WEST, 3),
    OrganisationSpec("West Yorkshire Police", OrganisationKind.POLICE, Region.YORKSHIRE, 2),
    OrganisationSpec("Kent Police", OrganisationKind.POLICE, Region.SOUTH_EAST, 2),
    OrganisationSpec("Thames Valley Police", OrganisationKind.POLICE, Region.SOUTH_EAST, 1.5),
    OrganisationSpec("Northumbria Police", OrganisationKind.POLICE, Region.NORTH_EAST, 1),
    OrganisationSpec("Avon and Somerset Constabulary", OrganisationKind.POLICE, Region.SOUTH_WEST, 1),
    OrganisationSpec("Nottinghamshire Police", OrganisationKind.POLICE, Region.EAST_MIDLANDS, 1),
    OrganisationSpec("Essex Police", OrganisationKind.POLICE, Region.EAST, 1),
    OrganisationSpec("South Wales Police", OrganisationKind.POLICE, Region.WALES, 1),
    OrganisationSpec("Police Scotland", OrganisationKind.POLICE, Region.SCOTLAND, 1.5),
    OrganisationSpec(
        "Police Service of Northern Ireland", OrganisationKind.POLICE, Region.NORTHERN_IRELAND, 0.7
    ),
    OrganisationSpec("Border Force", OrganisationKind.BORDER_FORCE, None, 1),
    OrganisationSpec("Home Office Immigration Enforcement", OrganisationKind.GOVERNMENT_AGENCY, None, 3),
    OrganisationSpec("UK Visas and Immigration", OrganisationKind.GOVERNMENT_AGENCY, None, 2),
    OrganisationSpec("National Crime Agency", OrganisationKind.GOVERNMENT_AGENCY, None, 0.5),
    OrganisationSpec("Gangmasters and Labour Abuse Authority", OrganisationKind.GOVERNMENT_AGENCY, None, 0.5),
    OrganisationSpec("Birmingham City Council", OrganisationKind.LOCAL_AUTHORITY, Region.WEST_MIDLANDS, 2),
    OrganisationSpec("Manchester City Council", OrganisationKind.LOCAL_AUTHORITY, Region.NORTH_WEST, 1.5),
    OrganisationSpec("Kent County Council", OrganisationKind.LOCAL_AUTHORITY, Region.SOUTH_EAST, 2),
    OrganisationSpec("London Borough of Hillingdon", OrganisationKind.LOCAL_AUTHORITY, Region.LONDON, 2),
    OrganisationSpec("Leeds City Council", OrganisationKind.LOCAL_AUTHORITY, Region.YORKSHIRE, 1),
    OrganisationSpec("Cardiff Council", OrganisationKind.LOCAL_AUTHORITY, Region.WALES, 0.7),
    OrganisationSpec("Glasgow City Council", OrganisationKind.LOCAL_AUTHORITY, Region.SCOTLAND, 0.8),
    OrganisationSpec("Barnardo's", OrganisationKind.NGO, None, 1.5),
    OrganisationSpec("NSPCC", OrganisationKind.NGO, None, 1),
    OrganisationSpec("Kalayaan", OrganisationKind.NGO, Region.LONDON, 0.5),
    OrganisationSpec("Refugee Council", OrganisationKind.NGO, None, 1),
    OrganisationSpec("New Pathways", OrganisationKind.NGO, Region.WALES, 0.4),
]
# Share of referrals by referring organisation kind, close to the published split.
KIND_SHARE: dict[str, float] = {
    OrganisationKind.POLICE: 0.30,
    OrganisationKind.BORDER_FORCE: 0.08,
    OrganisationKind.GOVERNMENT_AGENCY: 0.34,
    OrganisationKind.LOCAL_AUTHORITY: 0.20,
    OrganisationKind.NGO: 0.08,
}
CONTRACTOR = "The Salvation Army Victim Care Contract"


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    regions: tuple[str, ...]
    services: tuple[str, ...]
    beds: tuple[int, int, int]  # women, men, family
    supports_children: bool
    languages: tuple[str, ...]


EVERY_SERVICE = (Service.ACCOMMODATION, Service.OUTREACH)
PROVIDERS = [
    # The providers of the demo users `provider` and `provider2`: every region, every service, children.
    ProviderSpec(
        "Medaille Trust", tuple(ALL_REGIONS), EVERY_SERVICE, (30, 30, 12), True, ("en", "sq", "vi", "ro")
    ),
    ProviderSpec(
        "Migrant Help", tuple(ALL_REGIONS), EVERY_SERVICE, (30, 30, 12), True, ("en", "ar", "ti", "so", "fa")
    ),
    ProviderSpec(
        "Causeway",
        ("north_west", "yorkshire", "east_midlands"),
        EVERY_SERVICE,
        (14, 18, 4),
        False,
        ("en", "pl", "ro"),
    ),
    ProviderSpec(
        "Hestia", ("london", "south_east", "east"), EVERY_SERVICE, (24, 16, 8), False, ("en", "sq", "pt")
    ),
    ProviderSpec("BAWSO", ("wales",), EVERY_SERVICE, (10, 6, 4), True, ("en", "cy", "ar")),
    ProviderSpec("Unseen", ("south_west", "west_midlands"), EVERY_SERVICE, (8, 10, 2), False, ("en", "vi")),
    ProviderSpec(
        "Palm Cove Society",
        ("north_east", "yorkshire", "north_west"),
        EVERY_SERVICE,
        (12, 8, 3),
        False,
        ("en", "zh"),
    ),
    ProviderSpec(
        "Ashiana Sheffield",
        ("yorkshire", "east_midlands"),
        (Service.ACCOMMODATION,),
        (12, 0, 4),
        False,
        ("en", "ur", "bn", "hi"),
    ),
    ProviderSpec(
        "Black Country Women's Aid", ("west_midlands",), EVERY_SERVICE, (16, 0, 6), True, ("en", "pa", "ur")
    ),
    ProviderSpec(
        "The Snowdrop Project",
        ("yorkshire", "north_east", "east_midlands"),
        (Service.OUTREACH,),
        (0, 0, 0),
        False,
        ("en",),
    ),
    ProviderSpec("TARA Service", ("scotland",), EVERY_SERVICE, (14, 0, 3), False, ("en", "ro", "zh")),
    ProviderSpec(
        "Belfast and Lisburn Women's Aid",
        ("northern_ireland",),
        EVERY_SERVICE,
        (10, 0, 4),
        True,
        ("en", "pl", "ro"),
    ),
    ProviderSpec(
        "Hope for Justice",
        ("south_east", "east", "london", "south_west"),
        EVERY_SERVICE,
        (10, 20, 4),
        False,
        ("en", "ro", "bg"),
    ),
]


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-").replace("--", "-")


def _email(name: str) -> str:
    return f"referrals@{_slug(name)}.example.org"


@dataclass
class DemoCast:
    """The fixed organisations, providers and users that referrals are generated around."""

    responders: list[tuple[OrganisationSpec, Organisation, User]]
    manager: User
    providers: list[tuple[CareProvider, User]]
    demo_provider_ids: frozenset[int]


def _organisation(name: str, kind: str, *, duty_phone: str = "") -> Organisation:
    organisation, _ = Organisation.objects.update_or_create(
        name=name, defaults={"kind": kind, "notification_emails": [_email(name)], "duty_phone": duty_phone}
    )
    return organisation


def _duty_phone(index: int) -> str:
    """A demo provider's duty phone: in Ofcom's range for drama (020 7946 0000-0999), as the managers'
    default duty line (020 7946 0321) is, and not that one."""
    return f"020 7946 0{400 + index:03d}"


def _user(username: str, *, organisation: Organisation, role: str, password: str | None) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"organisation": organisation, "role": role, "email": f"{username}@harbour.example.org"},
    )
    user.organisation = organisation
    user.role = role
    user.is_active = True
    if password is not None:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def seed_cast(*, password: str) -> DemoCast:
    """Create or update the fixed organisations, providers and users. Safe to run any number of times."""
    responders = []
    for spec in FIRST_RESPONDERS:
        organisation = _organisation(spec.name, spec.kind)
        username = {"Metropolitan Police Service": "responder", "Border Force": "responder2"}.get(spec.name)
        user = _user(
            username or f"intake-{_slug(spec.name)}",
            organisation=organisation,
            role=Role.FIRST_RESPONDER,
            password=password if username else None,
        )
        responders.append((spec, organisation, user))
    contractor = _organisation(CONTRACTOR, OrganisationKind.CONTRACTOR)
    manager = _user("manager", organisation=contractor, role=Role.MANAGER, password=password)
    providers = []
    demo_provider_ids = set()
    for index, provider_spec in enumerate(PROVIDERS):
        organisation = _organisation(
            provider_spec.name, OrganisationKind.CARE_PROVIDER, duty_phone=_duty_phone(index)
        )
        provider, _ = CareProvider.objects.get_or_create(
            organisation=organisation,
            defaults={
                "name": provider_spec.name,
                "beds_women": provider_spec.beds[0],
                "beds_men": provider_spec.beds[1],
                "beds_family": provider_spec.beds[2],
            },
        )
        provider.name = provider_spec.name
        provider.regions = list(provider_spec.regions)
        provider.services = list(provider_spec.services)
        provider.supports_children = provider_spec.supports_children
        provider.languages = list(provider_spec.languages)
        provider.active = True
        provider.save()
        username = ("provider", "provider2")[index] if index < 2 else None
        user = _user(
            username or f"staff-{_slug(provider_spec.name)}",
            organisation=organisation,
            role=Role.CARE_PROVIDER,
            password=password if username else None,
        )
        if username:
            demo_provider_ids.add(provider.pk)
        providers.append((provider, user))
    return DemoCast(responders, manager, providers, frozenset(demo_provider_ids))


# ------------------------------------------------------------------------------ weighted choices


class Weighted:
    """Fast repeated weighted choice from a fixed table."""

    def __init__(self, table: Sequence[tuple[Any, float]]) -> None:
        self.values = [value for value, _ in table]
        self.cumulative = list(itertools.accumulate(weight for _, weight in table))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


# Referrals by nationality, after the 2023–2025 NRM statistics; the long tail shares the rest.
NATIONALITIES: list[tuple[str, float]] = [
    ("GB", 23),
    ("AL", 12),
    ("VN", 9),
    ("ER", 8),
    ("SD", 6),
    ("SO", 4),
    ("NG", 2.2),
    ("RO", 2.2),
    ("CN", 2),
    ("IN", 2),
    ("AF", 2),
    ("IR", 1.8),
    ("IQ", 1.6),
    ("EG", 1.4),
    ("ET", 1.3),
    ("PK", 1.2),
    ("PL", 1.2),
    ("SK", 1),
    ("BD", 1),
    ("SY", 0.9),
    ("KW", 0.5),
    ("GH", 0.6),
    ("PH", 0.6),
    ("LK", 0.5),
    ("BG", 0.5),
    ("LT", 0.4),
    ("UA", 0.5),
    ("CZ", 0.3),
    ("HU", 0.3),
    ("JM", 0.3),
    ("TR", 0.4),
    ("GM", 0.3),
    ("CM", 0.3),
    ("ZW", 0.3),
    ("UG", 0.3),
    ("SL", 0.3),
    ("MA", 0.3),
    ("LY", 0.3),
    ("YE", 0.3),
    ("GN", 0.3),
    ("BR", 0.3),
    ("MY", 0.3),
    ("TH", 0.3),
    ("NP", 0.3),
    ("unknown", 0.6),
    ("stateless", 0.2),
]
# Nationalities whose share moved most over the decade: Albania and Vietnam earlier, the Horn of
# Africa and Sudan since 2024.
NATIONALITY_TREND = {"AL": (1.5, 0.8), "VN": (1.3, 1.0), "ER": (0.3, 1.9), "SO": (0.3, 1.9), "SD": (0.4, 1.6)}
LANGUAGE_OF = {
    "GB": "en",
    "AL": "sq",
    "VN": "vi",
    "ER": "ti",
    "SD": "ar",
    "SO": "so",
    "NG": "en",
    "RO": "ro",
    "CN": "zh",
    "IN": "hi",
    "AF": "ps",
    "IR": "fa",
    "IQ": "ar",
    "EG": "ar",
    "ET": "am",
    "PK": "ur",
    "PL": "pl",
    "SK": "sk",
    "BD": "bn",
    "SY": "ar",
    "KW": "ar",
    "GH": "en",
    "PH": "tl",
    "LK": "ta",
    "BG": "bg",
    "LT": "lt",
    "UA": "uk",
    "CZ": "cs",
    "HU": "hu",
    "JM": "en",
    "TR": "tr",
    "GM": "en",
    "CM": "fr",
    "ZW": "en",
    "UG": "en",
    "SL": "en",
    "MA": "ar",
    "LY": "ar",
    "YE": "ar",
    "GN": "fr",
    "BR": "pt",
    "MY": "ms",
    "TH": "th",
    "NP": "ne",
}
ADULT_EXPLOITATION = Weighted(
    [
        ("labour", 42),
        ("sexual", 24),
        ("criminal", 17),
        ("domestic_servitude", 9),
        ("other", 7.8),
        ("organ_harvesting", 0.2),
    ]
)
CHILD_EXPLOITATION = Weighted(
    [("criminal", 48), ("sexual", 19), ("labour", 19), ("domestic_servitude", 5), ("other", 9)]
)
# Children referred are mostly 15 to 17, as in the NRM statistics; younger ones fewer with each year.
CHILD_AGE = Weighted([(17, 30), (16, 25), (15, 17), (14, 10), (13, 7), (12, 5), (11, 3), (10, 3)])
# The share of each kind of first responder's referrals that are of children: local authorities, whose
# children's services meet most of them, refer a larger share of the children than of the adults, and
# the Home Office's agencies and Border Force a smaller one. About 42% overall, with KIND_SHARE.
CHILD_SHARE: dict[str, float] = {
    OrganisationKind.POLICE: 0.42,
    OrganisationKind.BORDER_FORCE: 0.22,
    OrganisationKind.GOVERNMENT_AGENCY: 0.25,
    OrganisationKind.LOCAL_AUTHORITY: 0.80,
    OrganisationKind.NGO: 0.40,
}
# The local authorities whose children's services a child is referred to first, a few in each region. In
# Northern Ireland children's social services are run by the Health and Social Care Trusts.
LOCAL_AUTHORITIES: dict[str, tuple[str, ...]] = {
    Region.NORTH_EAST: ("Newcastle City Council", "Sunderland City Council", "Durham County Council"),
    Region.NORTH_WEST: ("Manchester City Council", "Liverpool City Council", "Lancashire County Council"),
    Region.YORKSHIRE: ("Leeds City Council", "Sheffield City Council", "City of Bradford Council"),
    Region.EAST_MIDLANDS: ("Nottingham City Council", "Leicester City Council", "Derbyshire County Council"),
    Region.WEST_MIDLANDS: ("Birmingham City Council", "Coventry City Council", "Sandwell Council"),
    Region.EAST: ("Essex County Council", "Norfolk County Council", "Peterborough City Council"),
    Region.LONDON: ("London Borough of Hillingdon", "London Borough of Croydon", "Westminster City Council"),
    Region.SOUTH_EAST: ("Kent County Council", "Hampshire County Council", "Portsmouth City Council"),
    Region.SOUTH_WEST: ("Bristol City Council", "Devon County Council", "Plymouth City Council"),
    Region.WALES: ("Cardiff Council", "Swansea Council", "Newport City Council"),
    Region.SCOTLAND: ("Glasgow City Council", "City of Edinburgh Council", "Aberdeen City Council"),
    Region.NORTHERN_IRELAND: (
        "Belfast Health and Social Care Trust",
        "South Eastern Health and Social Care Trust",
    ),
}
# Whom the responder reached there; the numbers are in Ofcom's range for drama (01632 960000-960999).
LOCAL_AUTHORITY_CONTACTS = ("Duty social worker", "Children's services duty team", "Emergency duty team")
GENDER = Weighted([(Gender.MALE, 76), (Gender.FEMALE, 23), (Gender.OTHER, 0.5), (Gender.UNKNOWN, 0.5)])
REGION = Weighted(
    [
        ("london", 22),
        ("south_east", 12),
        ("west_midlands", 10),
        ("north_west", 11),
        ("yorkshire", 8),
        ("east_midlands", 6),
        ("east", 7),
        ("south_west", 5),
        ("north_east", 4),
        ("wales", 4),
        ("scotland", 6),
        ("northern_ireland", 2),
    ]
)
LOCATION = Weighted(
    [(ExploitationLocation.UK, 55), (ExploitationLocation.OVERSEAS, 28), (ExploitationLocation.BOTH, 17)]
)
DECLINE = Weighted([(r, w) for r, w in zip(DeclineReason.values, (5, 2, 3, 1), strict=True)])
WITHDRAW_WEIGHTS = list(zip(WithdrawReason.values, (5, 2, 2, 1), strict=True))
# A child's referral needs no consent, and is never withdrawn for want of it (``withdraw_referral``).
WITHDRAW = {
    False: Weighted(WITHDRAW_WEIGHTS),
    True: Weighted([(r, w) for r, w in WITHDRAW_WEIGHTS if r != WithdrawReason.CONSENT_WITHDRAWN]),
}
OUTCOME = Weighted([(r, w) for r, w in zip(RecoveryOutcome.values, (5, 3, 3, 1, 1), strict=True)])
EXIT = Weighted([(r, w) for r, w in zip(ExitReason.values, (4, 4, 2, 1), strict=True)])
# Corrections and changes of assessment. DOMAIN.md gives no rates: these are the demo's own. Most people
# whose age is in doubt have it assessed by the local authority within weeks, about half of them found
# adults; a few referred as children on an age estimate alone (no papers) are found adults, and fewer
# young adults children.
AGE_IN_DOUBT_ASSESSED = 0.7
CHILD_BY_ESTIMATE_FOUND_ADULT = 0.08
YOUNG_ADULT_BY_ESTIMATE_FOUND_CHILD = 0.04
NAME_MISTYPED = 0.03
NEW_PHONE = 0.03
MOVED_REGION = 0.015
# Of the people assessed, those whose needs change while they wait for an offer; of those, the share who
# now need a bed, or now want outreach only (the rest: their risk changed).
REASSESSED = 0.05
ROUTE_CHANGED = 0.3
AGE_DETAILS = ("date_of_birth", "age_estimate", "age_in_doubt")
REJECT = Weighted([(r, w) for r, w in zip(RejectReason.values, (5, 2, 1, 1), strict=True)])
# Of the people offered, those whose first offer the managers withdraw before its answer, and why: mostly a
# provider that does not answer within hours or cannot meet the person's needs after all (the demo's own
# rates, as above). The person is offered elsewhere.
OFFER_WITHDRAWN = 0.05
REVOKE = Weighted(
    [
        (RevokeOfferReason.NO_ANSWER, 4),
        (RevokeOfferReason.PROVIDER_UNSUITABLE, 3),
        (RevokeOfferReason.SAFETY_CONCERN, 1),
        (RevokeOfferReason.NEEDS_CHANGED, 1),
        (RevokeOfferReason.OTHER, 0.5),
    ]
)

GIVEN_NAMES = {
    Gender.MALE: [
        "Adam",
        "Ali",
        "Amir",
        "Andrei",
        "Arben",
        "Bao",
        "Besnik",
        "Chen",
        "Daniel",
        "David",
        "Dawit",
        "Duc",
        "Emmanuel",
        "Erion",
        "Hamid",
        "Hassan",
        "Ibrahim",
        "Ion",
        "James",
        "Jamal",
        "Kevin",
        "Klodian",
        "Liam",
        "Luan",
        "Mihai",
        "Minh",
        "Mohamed",
        "Musa",
        "Nam",
        "Omar",
        "Petr",
        "Rahul",
        "Samuel",
        "Tesfay",
        "Thanh",
        "Tomasz",
        "Yonas",
        "Yusuf",
    ],
    Gender.FEMALE: [
        "Aisha",
        "Alina",
        "Amina",
        "Anh",
        "Ana",
        "Blessing",
        "Chloe",
        "Daniela",
        "Elena",
        "Esra",
        "Fatima",
        "Grace",
        "Hana",
        "Helen",
        "Ioana",
        "Jia",
        "Joy",
        "Lan",
        "Linh",
        "Maria",
        "Mariam",
        "Mei",
        "Merhawit",
        "Nadia",
        "Ngoc",
        "Precious",
        "Rahel",
        "Sara",
        "Sofia",
        "Zainab",
    ],
}
FAMILY_NAMES = [
    "Ahmed",
    "Ali",
    "Bajrami",
    "Berhe",
    "Brown",
    "Chen",
    "Dang",
    "Dumitru",
    "Evans",
    "Gashi",
    "Hoang",
    "Hussein",
    "Ibrahim",
    "Jones",
    "Kelmendi",
    "Kowalski",
    "Le",
    "Li",
    "Mohamed",
    "Mensah",
    "Nguyen",
    "Novak",
    "Okafor",
    "Osman",
    "Patel",
    "Pham",
    "Popescu",
    "Rossi",
    "Said",
    "Smith",
    "Tesfaye",
    "Tran",
    "Wang",
    "Wilson",
    "Yilmaz",
    "Yusuf",
    "Zhang",
]
# The responder's account, by whether the person is a child and by their first type of exploitation, so
# that it fits them: no adult found carrying drugs as a child, no sexual exploitation told as factory work.
ACCOUNTS: dict[bool, dict[str, list[str]]] = {
    False: {  # adults
        "labour": [
            "Found working long hours at a car wash; documents held by the employer; sleeps on site.",
            "Arrived by small boat; says a debt for the journey must be worked off on a farm.",
            "Recruited online for restaurant work; wages withheld; threatened with harm to family at home.",
            "Nail bar worker living above the shop; hands over all earnings; limited English.",
            "Factory worker recruited with others from the same village; housed in an overcrowded property.",
        ],
        "sexual": [
            "Disclosed being moved between addresses for sex work; does not know the addresses.",
            "Promised a job abroad, then made to see clients in short-let flats; passport and phone taken.",
            "Advertised online for sex by others who keep the money; moved to a new town every few weeks.",
        ],
        "criminal": [
            "Stopped in a vehicle with cash and phones; says the pay is debt reduction, not money.",
            "Found in a cannabis grow in a house; windows boarded; frightened of the organisers.",
            "Made to open bank accounts and claim benefits for others; a landlord keeps the cards.",
        ],
        "domestic_servitude": [
            "Domestic worker whose passport was kept by the family; not allowed out alone.",
            "Cooks and cleans for a household from dawn to midnight without pay; sleeps in the kitchen.",
        ],
        "organ_harvesting": [
            "Offered work abroad, then pressed to sell a kidney to pay for the journey; taken for tests.",
        ],
        "other": [
            "Made to beg outside stations and hand over the takings; moved between cities by a group.",
            "Married against their will and kept at home; not allowed to contact their own family.",
        ],
    },
    True: {  # children
        "criminal": [
            "Child found carrying drugs between towns; older men arrange travel and hold the phone.",
            "Found in a flat far from home after being reported missing; says a drugs debt is owed.",
            "Found locked in a cannabis grow; brought to the UK in a lorry and told the journey is owed.",
        ],
        "sexual": [
            "Groomed online by an older man; taken to parties in hotels and given alcohol and drugs.",
            "Missing from care several times; seen getting into cars with older men; unexplained gifts.",
        ],
        "labour": [
            "Working at a car wash instead of going to school; lives with the owner, who keeps the pay.",
            "Found working in a nail bar; looks much younger than the age given; the owner speaks for them.",
        ],
        "domestic_servitude": [
            "Brought to the UK to look after a relative's children; not at school; sleeps on the floor.",
        ],
        "other": [
            "Made to beg in city centres with adults who are not family; moved between cities.",
            "Kept from school by relatives who have promised them in marriage; travel abroad being arranged.",
        ],
    },
}


@dataclass
class Digests:
    """Keyed digests of the (few) distinct fictitious names, given as (given name, family name), and
    birth dates, given as (ISO date,), computed once each as the cases' own are."""

    digests: dict[tuple[str, ...], str] = field(default_factory=dict)

    def __call__(self, *parts: str) -> str:
        digest = self.digests.get(parts)
        if digest is None:
            digest = self.digests[parts] = name_digest(*parts) if len(parts) == 2 else keyed_digest(*parts)
        return digest


# ---------------------------------------------------------------------------------- the generator


@dataclass
class Occupancy:
    """Beds in use per provider and kind while generating, so active placements never exceed capacity."""

    used: Counter[tuple[int, str]]
    capacity: dict[tuple[int, str], int]

    def take(self, provider_id: int, kind: str) -> bool:
        key = (provider_id, kind)
        if self.used[key] >= self.capacity.get(key, 0):
            return False
        self.used[key] += 1
        return True


@dataclass
class Batch:
    referrals: list[Referral] = field(default_factory=list)
    # Rows that need the referral's id: (index into referrals, unsaved row).
    logs: list[tuple[int, TransitionLog]] = field(default_factory=list)
    deadlines: list[tuple[int, Deadline]] = field(default_factory=list)
    offers: list[tuple[int, PlacementOffer]] = field(default_factory=list)
    placements: list[tuple[int, int, Placement]] = field(default_factory=list)  # + index into offers
    offer_deadlines: list[tuple[int, int, Deadline]] = field(default_factory=list)
    # Logs whose input names an offer, known once the offers are written: (log, index into offers).
    offer_logs: list[tuple[TransitionLog, int]] = field(default_factory=list)


def _hours(hours: float) -> datetime.timedelta:
    return datetime.timedelta(hours=hours)


class ReferralGenerator:
    """Builds realistic case histories relative to ``now`` and writes them in batches."""

    def __init__(self, cast: DemoCast, *, count: int, now: datetime.datetime, seed: int | None) -> None:
        self.cast = cast
        self.now = now
        self.rng = random.Random(seed)
        self.digest = Digests()
        # Ten years for a national-scale load, less for a small demo so every month has cases.
        years = 10 if count >= 50_000 else max(1, min(10, count // 5_000))
        self.start = now - datetime.timedelta(days=365 * years)
        self.span_seconds = (now - self.start).total_seconds()
        # Volumes grow about 12% a year: sample time by inverting the exponential's distribution.
        self.growth = 0.12 * years
        # A small demo would have only a case or two in its last days: enough more are added there for
        # a triage queue and pending work. A larger one has them anyway, and no spike in its trend.
        recent = 4 * 86400 / self.span_seconds
        natural = count * -math.expm1(-self.growth * recent) * math.exp(self.growth) / math.expm1(self.growth)
        self.recent_share = max(0.0, RECENT_CASES - natural) / max(count, 1)
        self.responders = Weighted(
            [
                (
                    (spec, organisation, user),
                    KIND_SHARE[spec.kind] * spec.weight / self._kind_weight(spec.kind),
                )
                for spec, organisation, user in cast.responders
            ]
        )
        self.provider_users = {provider.pk: user for provider, user in cast.providers}
        self.providers = [provider for provider, _ in cast.providers]
        self.occupancy = self._current_occupancy()
        self.nationalities = {
            era: Weighted(
                [(code, weight * NATIONALITY_TREND.get(code, (1, 1))[era]) for code, weight in NATIONALITIES]
            )
            for era in (0, 1)
        }
        self.nationalities_mid = Weighted(NATIONALITIES)
        # The case being generated's corrections, as (when, reason, the details as corrected).
        self.corrections: list[tuple[datetime.datetime, str, dict[str, Any]]] = []

    def _kind_weight(self, kind: str) -> float:
        return sum(spec.weight for spec, _, _ in self.cast.responders if spec.kind == kind)

    def _current_occupancy(self) -> Occupancy:
        used: Counter[tuple[int, str]] = Counter()
        for row in (
            Placement.objects.filter(ended_at__isnull=True)
            .exclude(bed_kind="")
            .values("provider_id", "bed_kind")
            .annotate(n=Count("id"))
        ):
            used[(row["provider_id"], row["bed_kind"])] = row["n"]
        capacity = {}
        for provider in self.providers:
            # The demo users' providers always keep free beds of every kind (SPEC §9).
            reserve = 2 if provider.pk in self.cast.demo_provider_ids else 0
            for kind in BedKind.values:
                capacity[(provider.pk, kind)] = max(0, provider.capacity(kind) - reserve)
        return Occupancy(used, capacity)

    # -- sampling

    def _submitted_at(self) -> datetime.datetime:
        if self.rng.random() < self.recent_share:
            return self.now - datetime.timedelta(seconds=self.rng.uniform(60, 4 * 86400))
        u = self.rng.random()
        fraction = math.log1p(u * math.expm1(self.growth)) / self.growth
        return self.start + datetime.timedelta(seconds=fraction * self.span_seconds)

    def _nationality(self, when: datetime.datetime) -> str:
        if when.year <= 2019:
            return self.nationalities[0](self.rng)
        if when.year >= 2024:
            return self.nationalities[1](self.rng)
        return self.nationalities_mid(self.rng)

    def _region(self, spec: OrganisationSpec) -> str:
        if spec.home_region and self.rng.random() < 0.88:
            return spec.home_region
        return REGION(self.rng)

    # -- one case

    def referral(self, batch: Batch) -> None:
        rng = self.rng
        spec, organisation, responder = self.responders(rng)
        submitted = self._submitted_at()
        child = rng.random() < CHILD_SHARE[spec.kind]
        gender = GENDER(rng)
        nationality = self._nationality(submitted)
        age = CHILD_AGE(rng) if child else min(75, 18 + int(rng.expovariate(1 / 12)))
        age_in_doubt = not child and age < 25 and rng.random() < 0.1
        birth = None
        age_estimate = None
        if rng.random() < 0.65:
            birth = submitted.date() - datetime.timedelta(days=int(age * 365.25) + rng.randint(1, 360))
        else:
            age_estimate = age
        on = timezone.localdate(submitted)
        child = is_child(date_of_birth=birth, age_estimate=age_estimate, age_in_doubt=age_in_doubt, on=on)
        exploitation = CHILD_EXPLOITATION if child else ADULT_EXPLOITATION
        types = [exploitation(rng)]
        if rng.random() < 0.12:
            second = exploitation(rng)
            if second not in types:
                types.append(second)
        language = LANGUAGE_OF.get(nationality, "en")
        languages = [language] if language == "en" else [language, "en"] if rng.random() < 0.3 else [language]
        needs_accommodation = rng.random() < (0.7 if child else 0.55)
        given = rng.choice(GIVEN_NAMES[Gender.FEMALE if gender == Gender.FEMALE else Gender.MALE])
        family = rng.choice(FAMILY_NAMES)
        safe_to_contact = rng.random() < 0.6
        local_authority = local_authority_contact = ""
        region = self._region(spec)
        if child:
            # A council referring a child told its own children's services.
            local_authority = (
                spec.name
                if spec.kind == OrganisationKind.LOCAL_AUTHORITY
                else rng.choice(LOCAL_AUTHORITIES[region])
            )
            if rng.random() < 0.85:
                local_authority_contact = (
                    f"{rng.choice(LOCAL_AUTHORITY_CONTACTS)}, 01632 960{rng.randint(0, 999):03d}"
                )
        case = SimpleNamespace(
            reference="",  # numbered when the batch is written
            state=S.RECEIVED,
            state_changed_at=submitted,
            organisation_id=organisation.pk,
            submitted_by_id=responder.pk,
            submitted_at=submitted,
            consent=not child or rng.random() < 0.8,
            given_name=given,
            family_name=family,
            date_of_birth=birth,
            age_estimate=age_estimate,
            age_in_doubt=age_in_doubt,
            is_child=child,
            local_authority=local_authority,
            local_authority_contact=local_authority_contact,
            gender=gender,
            nationality=nationality,
            languages=languages,
            interpreter_needed=language != "en",
            exploitation_types=types,
            exploitation_location=LOCATION(rng),
            region=region,
            needs_accommodation=needs_accommodation,
            emergency=needs_accommodation and rng.random() < 0.2,
            needs_medical=rng.random() < 0.25,
            has_dependants=not child and rng.random() < 0.08,
            safe_to_contact=safe_to_contact,
            contact_phone=f"07700 900{rng.randint(0, 999):03d}" if safe_to_contact else "",
            account=rng.choice(ACCOUNTS[child][types[0]]),
            responder_reference=f"{_slug(spec.name)[:4].upper()}-{rng.randint(10000, 99999)}",
        )
        # The history fills in the workflow fields; the state is set once, when the row is built.
        index = len(batch.referrals)
        batch.referrals.append(None)  # type: ignore[arg-type]
        first_log = len(batch.logs)
        found = self._age_assessment(case)
        child_as_found = found is not None and is_child(
            **{name: found.get(name, getattr(case, name)) for name in AGE_DETAILS}, on=on
        )
        # A child's rules (a provider for children, no consent to withdraw, a manager closing the case of
        # a missing child) hold of both the child referred and the child found, before and after.
        case.is_child = child or child_as_found
        self.corrections.clear()
        self._history(batch, index, case, responder)
        case.is_child = child
        self._correct_details(batch, index, case, responder, found, child_as_found, first_log)
        case.name_digest = self.digest(case.given_name, case.family_name)
        case.birth_date_digest = self.digest(case.date_of_birth.isoformat()) if case.date_of_birth else ""
        batch.referrals[index] = _row(Referral, **vars(case))

    def _age_assessment(self, case: Any) -> dict[str, Any] | None:
        """The age details a local authority's age assessment will find, if the person has one."""
        rng = self.rng
        if case.age_in_doubt:
            if rng.random() >= AGE_IN_DOUBT_ASSESSED:
                return None
            if rng.random() < 0.5:  # an adult, as the age given says
                return {"age_in_doubt": False}
            return {"age_in_doubt": False, **self._assessed_age(case, rng.choice((15, 16, 17)))}
        if case.age_estimate is None or case.age_estimate < 15:
            return None
        if case.is_child:
            if rng.random() >= CHILD_BY_ESTIMATE_FOUND_ADULT:
                return None
            return self._assessed_age(case, rng.randint(18, 22))
        if case.age_estimate > 20 or rng.random() >= YOUNG_ADULT_BY_ESTIMATE_FOUND_CHILD:
            return None
        # A child is referred to the local authority's children's services first: it is named now.
        contact = f"{rng.choice(LOCAL_AUTHORITY_CONTACTS)}, 01632 960{rng.randint(0, 999):03d}"
        return {
            **self._assessed_age(case, rng.choice((15, 16, 17))),
            "local_authority": rng.choice(LOCAL_AUTHORITIES[case.region]),
            "local_authority_contact": contact if rng.random() < 0.85 else "",
        }

    def _assessed_age(self, case: Any, age: int) -> dict[str, Any]:
        """An assessed age, as a date of birth where the referral gave one, else as an estimate."""
        if case.date_of_birth is None:
            return {"age_estimate": age}
        days = int(age * 365.25) + self.rng.randint(1, 360)
        return {"date_of_birth": timezone.localdate(case.submitted_at) - datetime.timedelta(days=days)}

    def _correct_details(self, batch: Batch, index: int, case: Any, responder: User,
                         found: dict[str, Any] | None, child_as_found: bool, first_log: int) -> None:  # fmt: skip
        """Corrections while the case is open: an age assessment weeks after the referral, a name
        mistyped, a phone or a region learnt later, and those a change of assessment asked for. The case
        holds the details as last corrected; each log names the fields, never their values."""
        rng = self.rng
        at = case.submitted_at
        corrections = self.corrections
        if found is not None:
            assessed = at + datetime.timedelta(days=rng.uniform(7, 56))
            corrections.append((assessed, CorrectionReason.AGE_ASSESSMENT, found))
            if not child_as_found and not case.consent:
                # Found an adult: their support goes on only with their own consent, given soon after.
                given = assessed + datetime.timedelta(days=rng.uniform(1, 14))
                corrections.append((given, CorrectionReason.NEW_INFORMATION, {"consent": True}))
        if rng.random() < NAME_MISTYPED:
            names = rng.choice((("given_name",), ("family_name",), ("given_name", "family_name")))
            # The names generated are the right ones; the typing errors were in what was first sent.
            when = at + datetime.timedelta(days=rng.uniform(0.1, 10))
            corrections.append(
                (when, CorrectionReason.TYPING_ERROR, {name: getattr(case, name) for name in names})
            )
        if rng.random() < NEW_PHONE:
            phone = {"safe_to_contact": True, "contact_phone": f"07700 900{rng.randint(0, 999):03d}"}
            when = at + datetime.timedelta(days=rng.uniform(1, 60))
            corrections.append((when, CorrectionReason.NEW_INFORMATION, phone))
        if rng.random() < MOVED_REGION and (region := self._moved_to(batch, index, case)):
            when = at + datetime.timedelta(days=rng.uniform(1, 90))
            corrections.append((when, CorrectionReason.NEW_INFORMATION, {"region": region}))
        if not corrections:
            return
        closed = getattr(case, "closed_at", None) or self.now
        history = sorted((log.at, log.to_state) for _, log in batch.logs[first_log:])
        for when, reason, changes in sorted(corrections, key=lambda correction: correction[0]):
            if when >= closed:
                continue
            changed = [
                name
                for name in CORRECTABLE_FIELDS
                if name in changes
                and (reason == CorrectionReason.TYPING_ERROR or changes[name] != getattr(case, name))
            ]
            if not changed:
                continue
            for name in changed:
                setattr(case, name, changes[name])
            if reason == CorrectionReason.AGE_ASSESSMENT:
                case.is_child = child_as_found
            state = history[bisect.bisect_right(history, when, key=lambda log: log[0]) - 1][1]
            actor = responder if rng.random() < 0.5 else self.cast.manager
            self._log(batch, index, "correct", state, state, actor, when,
                      {"reason": reason, "note": "", "fields": changed})  # fmt: skip

    def _moved_to(self, batch: Batch, index: int, case: Any) -> str | None:
        """A region the person may have moved to for their safety: in the same nation (the clocks keep
        their bank holidays), and served by every provider they were offered to."""
        offered = {offer.provider_id for offer_index, offer in batch.offers if offer_index == index}
        serving = [p.regions for p in self.providers if p.pk in offered]
        nation = nation_of(case.region)
        regions = [
            region
            for region in ALL_REGIONS
            if region != case.region and nation_of(region) == nation and all(region in r for r in serving)
        ]
        return self.rng.choice(regions) if regions else None

    def _log(self, batch: Batch, index: int, transition: str, from_state: str, to_state: str,
             actor: User | None, at: datetime.datetime, input: dict[str, Any]) -> TransitionLog:  # fmt: skip
        log = _row(
            TransitionLog,
            transition=transition,
            from_state=from_state,
            to_state=to_state,
            actor_id=actor.pk if actor else None,
            at=at,
            input=input,
        )
        batch.logs.append((index, log))
        return log

    def _deadline(self, batch: Batch, index: int, referral: Any, clock: Clock,
                  start: datetime.datetime, stopped: datetime.datetime | None, due: datetime.datetime | None = None,
                  ) -> Deadline:  # fmt: skip
        working_days = working_days_of(clock, referral) if due is None else None
        due = due or due_at(clock, referral, start)
        remind = None
        if clock != Clock.MISSING:
            remind = reminder_at(start, due, working_days=working_days, nation=nation_of(referral.region))
        # Clocks already passed were swept when they passed: reminders and breaches are not sent again.
        until = stopped or self.now
        deadline = _row(
            Deadline,
            clock=clock,
            started_at=start,
            due_at=due,
            remind_at=remind,
            reminded_at=remind if remind and remind <= until else None,
            breached_at=due if due <= until else None,
            stopped_at=stopped,
        )
        batch.deadlines.append((index, deadline))
        return deadline

    def _missing_clock(self, batch: Batch, index: int, referral: Any, gone: datetime.datetime,
                       stopped: datetime.datetime | None) -> None:  # fmt: skip
        """The missing clock of a person reported missing as last seen at ``gone``, escalated then and every
        24 hours until ``stopped`` (the case closed) or now: the report counts who ever went missing by it."""
        repeats = int(((stopped or self.now) - gone).total_seconds() // 3600 // 24)
        missing = self._deadline(batch, index, referral, Clock.MISSING, gone, stopped,
                                 due=gone + _hours(24 * (repeats + 1)))  # fmt: skip
        missing.escalations = repeats + 1

    def _history(self, batch: Batch, index: int, referral: Any, responder: User) -> None:
        rng, now, manager = self.rng, self.now, self.cast.manager
        at = referral.submitted_at
        self._log(batch, index, "submit", "", S.RECEIVED, responder, at, {})
        decided = at + _hours(rng.lognormvariate(3.3, 1.0))  # median about a day
        if decided > now:
            self._deadline(batch, index, referral, Clock.ASSESSMENT, at, None)
            return
        self._deadline(batch, index, referral, Clock.ASSESSMENT, at, decided)
        roll = rng.random()
        if roll < 0.07:
            reason = DECLINE(rng)
            self._close(
                batch,
                index,
                referral,
                "decline",
                S.RECEIVED,
                S.DECLINED,
                manager,
                decided,
                {"reason": reason, "note": ""},
            )
            return
        if roll < 0.10:
            self._close(batch, index, referral, "withdraw", S.RECEIVED, S.WITHDRAWN, responder, decided,
                        {"reason": WITHDRAW[referral.is_child](rng), "note": ""})  # fmt: skip
            return
        risk = rng.choice(Risk.values)
        route = Route.ACCOMMODATION if referral.needs_accommodation else Route.OUTREACH
        referral.risk, referral.route, referral.assessed_at = risk, route, decided
        referral.state, referral.state_changed_at = S.ASSESSED, decided
        self._log(
            batch,
            index,
            "assess",
            S.RECEIVED,
            S.ASSESSED,
            manager,
            decided,
            {"risk": risk, "route": route, "notes": ""},
        )
        self._placement(batch, index, referral, responder, decided)

    def _close(self, batch: Batch, index: int, referral: Any, transition: str, from_state: str,
               to_state: str, actor: User, at: datetime.datetime, input: dict[str, Any]) -> None:  # fmt: skip
        referral.state, referral.state_changed_at, referral.closed_at = to_state, at, at
        self._log(batch, index, transition, from_state, to_state, actor, at, input)

    def _reassess(
        self, batch: Batch, index: int, referral: Any, assessed: datetime.datetime, at: datetime.datetime
    ) -> None:
        """The person's needs changed while they waited for an offer: their risk, or, with the need of a
        safe place to stay corrected just before, their route (not an emergency's: that is a bed today)."""
        rng = self.rng
        risk, route = referral.risk, referral.route
        if rng.random() < ROUTE_CHANGED and not referral.emergency:
            route = Route.OUTREACH if route == Route.ACCOMMODATION else Route.ACCOMMODATION
            needs = {"needs_accommodation": route == Route.ACCOMMODATION}
            corrected = at - (at - assessed) * rng.uniform(0.1, 0.5)
            self.corrections.append((corrected, CorrectionReason.NEW_INFORMATION, needs))
        else:
            risk = rng.choice([other for other in Risk.values if other != risk])
        referral.risk, referral.route = risk, route
        self._log(batch, index, "reassess", S.ASSESSED, S.ASSESSED, self.cast.manager, at,
                  {"risk": risk, "route": route, "notes": ""})  # fmt: skip

    def _eligible(self, referral: Any) -> list[CareProvider]:
        """The providers the managers could offer the person to: of their route's service, and taking
        them (``provider_misfits``): their region, a child, a kind of bed it has (no man offered to a
        women's refuge, which no bed will ever free)."""
        service = Service.ACCOMMODATION if referral.route == Route.ACCOMMODATION else Service.OUTREACH
        return [p for p in self.providers if service in p.services and not provider_misfits(p, referral)]

    def _placement(
        self, batch: Batch, index: int, referral: Any, responder: User, assessed: datetime.datetime
    ) -> None:
        rng, now = self.rng, self.now
        emergency_factor = 0.2 if referral.emergency else 1.0
        offered = assessed + _hours(rng.lognormvariate(2.5, 1.0) * emergency_factor)
        if rng.random() < REASSESSED and (changed := min(offered, now)) > assessed:
            self._reassess(
                batch, index, referral, assessed, assessed + (changed - assessed) * rng.uniform(0.3, 0.9)
            )
        placement_clock_stop: datetime.datetime | None = None
        candidates = self._eligible(referral)
        # A few recent cases still wait for an offer; an older one that never got one was withdrawn.
        waiting = now - assessed < datetime.timedelta(days=30) and rng.random() < 0.03
        if offered > now or not candidates or waiting:
            if offered <= now and (not waiting or rng.random() < 0.5):
                self._close(batch, index, referral, "withdraw", S.ASSESSED, S.WITHDRAWN, responder, offered,
                            {"reason": WITHDRAW[referral.is_child](rng), "note": ""})  # fmt: skip
                self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, offered)
                return
            self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
            return
        # Now and then the managers withdraw an offer before its answer and offer the person elsewhere.
        if rng.random() < OFFER_WITHDRAWN:
            first = rng.choice(candidates)
            reason = REVOKE(rng)
            # Before its answer time, after which a new offer closes it instead (``revoke_refusal``); a
            # provider that does not answer is given most of its four hours.
            hours = rng.uniform(2.5, 3.9) if reason == RevokeOfferReason.NO_ANSWER else rng.uniform(0.2, 3.5)
            withdrawn = offered + _hours(hours)
            if withdrawn > now:
                self._offer(batch, index, referral, first, offered, None, OfferState.PENDING)
                self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
                return
            self._offer(batch, index, referral, first, offered, withdrawn, OfferState.REVOKED, reason)
            # Elsewhere, where there is another provider: the suggestions put this one after the others.
            candidates = [p for p in candidates if p is not first] or candidates
            offered = withdrawn + _hours(rng.uniform(0.2, 6) * emergency_factor)
            if offered > now:
                self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
                return
        # An earlier offer turned down now and then, before the one that is accepted.
        if rng.random() < 0.12:
            first = rng.choice(candidates)
            answered = offered + _hours(rng.uniform(0.2, 3.5))
            if answered > now:
                self._offer(batch, index, referral, first, offered, None, OfferState.PENDING)
                self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
                return
            self._offer(batch, index, referral, first, offered, answered, OfferState.REJECTED)
            offered = answered + _hours(rng.uniform(0.5, 24) * emergency_factor)
            if offered > now:
                # Turned down lately: the managers have yet to offer the person again.
                self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
                return
        accepted = offered + _hours(rng.uniform(0.1, 3.8))
        if accepted > now:
            self._offer(batch, index, referral, rng.choice(candidates), offered, None, OfferState.PENDING)
            self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
            return
        stays = now - accepted < datetime.timedelta(days=400)
        leaves = accepted + datetime.timedelta(days=rng.lognormvariate(4.2, 0.6))  # median about 67 days
        active = leaves > now and stays
        bed_kind = ""
        if referral.route == Route.ACCOMMODATION:
            bed_kind = (
                BedKind.FAMILY
                if referral.has_dependants
                else (BedKind.MEN if referral.gender == Gender.MALE else BedKind.WOMEN)
            )
        provider = rng.choice(candidates)
        if active and bed_kind:
            free = [p for p in candidates if self.occupancy.take(p.pk, bed_kind)]
            if not free and now - assessed < datetime.timedelta(days=14):
                # No bed anywhere in the region: the person is still waiting for a placement.
                self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, None)
                return
            if not free:
                # Nobody waits months for a bed: the contractor found one (capacity is raised to match
                # at the end, see ``_raise_capacity_where_needed``).
                provider = rng.choice(
                    [p for p in candidates if p.pk not in self.cast.demo_provider_ids] or candidates
                )
                self.occupancy.used[(provider.pk, bed_kind)] += 1
                free = [provider]
            provider = rng.choice(free)
            # Put back the beds taken while looking, keeping only the chosen provider's.
            for other in free:
                if other is not provider:
                    self.occupancy.used[(other.pk, bed_kind)] -= 1
        placement_clock_stop = accepted
        self._deadline(batch, index, referral, Clock.PLACEMENT, assessed, placement_clock_stop)
        offer_index = self._offer(batch, index, referral, provider, offered, accepted, OfferState.ACCEPTED)
        provider_user = self.provider_users[provider.pk]
        referral.state, referral.state_changed_at = S.PLACED, accepted
        referral.placed_at = referral.first_placed_at = accepted
        self._log(batch, index, "accept", S.ASSESSED, S.PLACED, provider_user, accepted, {})
        ended = None if active else leaves
        batch.placements.append(
            (
                index,
                offer_index,
                _row(
                    Placement, provider_id=provider.pk, bed_kind=bed_kind, started_at=accepted, ended_at=ended
                ),
            )
        )
        if active:
            if rng.random() < 0.04:
                gone = now - _hours(rng.uniform(2, 72))
                gone = max(gone, accepted + _hours(1))
                referral.state, referral.state_changed_at = S.MISSING, gone
                self._log(batch, index, "report_missing", S.PLACED, S.MISSING, provider_user, gone,
                          {"last_seen_at": gone.isoformat(), "note": ""})  # fmt: skip
                self._missing_clock(batch, index, referral, gone, None)
                self._deadline(batch, index, referral, Clock.CHECK_IN, accepted, gone)
                # Paused since they went missing, as ``deadlines.pause_clock`` leaves it.
                review = self._deadline(batch, index, referral, Clock.RECOVERY_REVIEW, accepted, gone)
                review.paused = True
                if review.due_at > gone:
                    review.reminded_at = None
                return
            # Most providers record the day-30 recovery review about on time; a few are late.
            reviewed = accepted + datetime.timedelta(days=rng.uniform(26, 30) if rng.random() < 0.9 else 34)
            if reviewed <= now:
                self._log(batch, index, "record_progress", S.PLACED, S.PLACED, provider_user, reviewed,
                          {"note": "", "next_check_in": None, "recovery_review": True})  # fmt: skip
            self._deadline(
                batch, index, referral, Clock.RECOVERY_REVIEW, accepted, reviewed if reviewed <= now else None
            )
            check_in_start = max(accepted, now - datetime.timedelta(days=rng.uniform(0, 8)))
            if check_in_start > accepted:
                self._log(batch, index, "record_progress", S.PLACED, S.PLACED, provider_user, check_in_start,
                          {"note": "", "next_check_in": None})  # fmt: skip
            self._deadline(batch, index, referral, Clock.CHECK_IN, check_in_start, None)
            return
        roll = rng.random()
        if roll < 0.78:
            self._close(batch, index, referral, "recover", S.PLACED, S.RECOVERED, provider_user, leaves,
                        {"outcome": OUTCOME(rng), "note": ""})  # fmt: skip
        elif roll < 0.94:
            self._close(batch, index, referral, "exit", S.PLACED, S.EXITED, provider_user, leaves,
                        {"reason": EXIT(rng), "note": ""})  # fmt: skip
        else:
            gone = leaves - datetime.timedelta(days=rng.uniform(1, 10))
            gone = max(gone, accepted + _hours(1))
            self._log(batch, index, "report_missing", S.PLACED, S.MISSING, provider_user, gone,
                      {"last_seen_at": gone.isoformat(), "note": ""})  # fmt: skip
            self._missing_clock(batch, index, referral, gone, leaves)
            # A missing child's case is closed by a manager alone (``permissions.may_perform``).
            closer = self.cast.manager if referral.is_child else provider_user
            self._close(batch, index, referral, "exit", S.MISSING, S.EXITED, closer, leaves,
                        {"reason": ExitReason.LOST_CONTACT, "note": ""})  # fmt: skip

    def _offer(self, batch: Batch, index: int, referral: Any, provider: CareProvider,
               offered: datetime.datetime, ended: datetime.datetime | None, state: str,
               revoke_reason: str = "") -> int:  # fmt: skip
        """An offer and its logs; ``ended``: when it was answered, or withdrawn by the managers (for
        ``revoke_reason``), None while pending."""
        manager = self.cast.manager
        due = offered + datetime.timedelta(minutes=240)
        offer = _row(
            PlacementOffer,
            provider_id=provider.pk,
            state=state,
            offered_by_id=manager.pk,
            offered_at=offered,
            response_due_at=due,
            # A withdrawn offer was never answered, as ``revoke_offer`` leaves it.
            responded_at=ended if state != OfferState.REVOKED else None,
            reject_reason=REJECT(self.rng) if state == OfferState.REJECTED else "",
            revoke_reason=revoke_reason,
        )
        offer_index = len(batch.offers)
        batch.offers.append((index, offer))
        self._log(batch, index, "offer", S.ASSESSED, S.ASSESSED, manager, offered, {"provider": provider.pk})
        if state == OfferState.REJECTED:
            assert ended is not None, "a rejected offer is answered"  # only a pending one is not
            self._log(batch, index, "reject", S.ASSESSED, S.ASSESSED, self.provider_users[provider.pk], ended,
                      {"reason": offer.reject_reason, "note": ""})  # fmt: skip
        if state == OfferState.REVOKED:
            assert ended is not None, "a withdrawn offer has its time"
            withdrawal = {"offer": None, "provider": provider.pk, "reason": revoke_reason, "note": ""}
            log = self._log(batch, index, "revoke_offer", S.ASSESSED, S.ASSESSED, manager, ended, withdrawal)
            batch.offer_logs.append((log, offer_index))
        if state in (OfferState.PENDING, OfferState.REVOKED):
            # The open clock of a pending offer, and the clock a withdrawal stopped, as ``revoke_offer``
            # leaves it (a withdrawn offer has no answer time); answered offers carry their own times.
            remind = offered + (due - offered) * 0.8
            deadline = _row(
                Deadline,
                clock=Clock.OFFER_RESPONSE,
                started_at=offered,
                due_at=due,
                remind_at=remind,
                reminded_at=remind if remind <= (ended or self.now) else None,
                stopped_at=ended,
            )
            batch.offer_deadlines.append((index, offer_index, deadline))
        return offer_index

    # -- writing

    def write(self, batch: Batch) -> None:
        with transaction.atomic():
            number_cases(batch.referrals)
            Referral.objects.bulk_create(batch.referrals)
            referrals = batch.referrals
            offers = []
            for index, offer in batch.offers:
                offer.referral_id = referrals[index].pk
                offers.append(offer)
            PlacementOffer.objects.bulk_create(offers)
            for log, offer_index in batch.offer_logs:
                log.input["offer"] = offers[offer_index].pk
            logs = []
            for index, log in batch.logs:
                log.referral_id = referrals[index].pk
                logs.append(log)
            TransitionLog.objects.bulk_create(logs)
            placements = []
            for index, offer_index, placement in batch.placements:
                placement.referral_id = referrals[index].pk
                placement.offer_id = offers[offer_index].pk
                placements.append(placement)
            Placement.objects.bulk_create(placements)
            deadlines = []
            for index, deadline in batch.deadlines:
                deadline.referral_id = referrals[index].pk
                deadlines.append(deadline)
            for index, offer_index, deadline in batch.offer_deadlines:
                deadline.referral_id = referrals[index].pk
                deadline.offer_id = offers[offer_index].pk
                deadlines.append(deadline)
            Deadline.objects.bulk_create(deadlines)

    def anonymous_notification(self) -> AnonymousNotification:
        rng = self.rng
        spec, organisation, responder = self.responders(rng)
        submitted = self._submitted_at()
        return _row(
            AnonymousNotification,
            organisation_id=organisation.pk,
            submitted_by_id=responder.pk,
            submitted_at=submitted,
            gender=GENDER(rng),
            nationality=self._nationality(submitted),
            exploitation_types=[ADULT_EXPLOITATION(rng)],
            region=self._region(spec),
        )


_FIELD_DEFAULTS: dict[type[Model], dict[str, Any]] = {}


def number_cases(referrals: Sequence[Referral]) -> None:
    """Give a batch of new cases their references, the numbers of each year reserved at once."""
    by_year: dict[int, list[Referral]] = {}
    for referral in referrals:
        by_year.setdefault(timezone.localtime(referral.submitted_at).year, []).append(referral)
    for year, cases in by_year.items():
        for referral, number in zip(cases, reserve_numbers(year, len(cases)), strict=True):
            referral.reference = format_reference(year, number)


def _row(model: type[Model], **values: Any) -> Any:
    """An unsaved instance for ``bulk_create``, built without running ``Model.__init__``.

    Every field not given takes its default; callable defaults are evaluated once per model, so the
    generator passes every time-valued field explicitly.
    """
    defaults = _FIELD_DEFAULTS.get(model)
    if defaults is None:
        defaults = _FIELD_DEFAULTS[model] = {
            f.attname: None if f.primary_key else f.get_default() for f in model._meta.concrete_fields
        }
    instance = model.__new__(model)
    instance.__dict__.update(defaults)
    instance.__dict__.update(values)
    instance._state = ModelState()
    return instance


def seed_referrals(
    cast: DemoCast,
    *,
    count: int,
    batch_size: int = 2_000,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Generate ``count`` referral histories and about 30% as many anonymous notifications, in batches."""
    generator = ReferralGenerator(cast, count=count, now=now or timezone.now(), seed=seed)
    with reused_ciphertexts():
        for size in _chunks(count, batch_size):
            batch = Batch()
            for _ in range(size):
                generator.referral(batch)
            generator.write(batch)
            AnonymousNotification.objects.bulk_create(
                [generator.anonymous_notification() for _ in range(round(size * 0.3))]
            )
            # With DEBUG on, Django keeps the last 9,000 statements; bulk inserts are megabytes each.
            reset_queries()
            if progress:
                progress(size)
    _raise_capacity_where_needed(cast)


def _raise_capacity_where_needed(cast: DemoCast) -> None:
    """Never leave a provider over capacity; the demo users' providers keep free beds of every kind."""
    occupied = Counter(
        {
            (row["provider_id"], row["bed_kind"]): row["n"]
            for row in Placement.objects.filter(ended_at__isnull=True)
            .exclude(bed_kind="")
            .values("provider_id", "bed_kind")
            .annotate(n=Count("id"))
        }
    )
    for provider, _ in cast.providers:
        provider.refresh_from_db()
        changed = []
        for kind in BedKind.values:
            minimum = occupied[(provider.pk, kind)] + (2 if provider.pk in cast.demo_provider_ids else 0)
            if Service.ACCOMMODATION in provider.services and provider.capacity(kind) < minimum:
                setattr(provider, f"beds_{kind}", minimum)
                changed.append(f"beds_{kind}")
        if changed:
            provider.save(update_fields=changed)


@contextmanager
def reused_ciphertexts(limit: int = 200_000) -> Iterator[None]:
    """Encrypt each distinct plaintext once while seeding, instead of once per row.

    The generator draws names, accounts and inputs from small pools of fictitious values, so the same
    plaintext recurs millions of times; Fernet costs some 20 µs a call. Equal plaintexts then share a
    token, which is acceptable for demo data only.
    """
    original = encryption.encrypt
    tokens: dict[str, str] = {}

    def encrypt_once(plaintext: str) -> str:
        token = tokens.get(plaintext)
        if token is None:
            if len(tokens) >= limit:
                tokens.clear()
            token = tokens[plaintext] = original(plaintext)
        return token

    encryption.encrypt = encrypt_once
    try:
        yield
    finally:
        encryption.encrypt = original


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size
