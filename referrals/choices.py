"""Reference data of the referral domain (SPEC §3, §4, §7)."""

from collections.abc import Iterable
from functools import cache

import pycountry
from django.db import models


class Nation(models.TextChoices):
    ENGLAND = "england", "England"
    WALES = "wales", "Wales"
    SCOTLAND = "scotland", "Scotland"
    NORTHERN_IRELAND = "northern_ireland", "Northern Ireland"


class Region(models.TextChoices):
    NORTH_EAST = "north_east", "North East"
    NORTH_WEST = "north_west", "North West"
    YORKSHIRE = "yorkshire", "Yorkshire and the Humber"
    EAST_MIDLANDS = "east_midlands", "East Midlands"
    WEST_MIDLANDS = "west_midlands", "West Midlands"
    EAST = "east", "East of England"
    LONDON = "london", "London"
    SOUTH_EAST = "south_east", "South East"
    SOUTH_WEST = "south_west", "South West"
    WALES = "wales", "Wales"
    SCOTLAND = "scotland", "Scotland"
    NORTHERN_IRELAND = "northern_ireland", "Northern Ireland"


def nation_of(region: str) -> Nation:
    return {
        Region.WALES: Nation.WALES,
        Region.SCOTLAND: Nation.SCOTLAND,
        Region.NORTHERN_IRELAND: Nation.NORTHERN_IRELAND,
    }.get(Region(region), Nation.ENGLAND)


class ReferralState(models.TextChoices):
    RECEIVED = "received", "Received"
    ASSESSED = "assessed", "Assessed"
    PLACED = "placed", "Placed"
    MISSING = "missing", "Missing"
    RECOVERED = "recovered", "Recovered"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXITED = "exited", "Exited"


OPEN_STATES = (ReferralState.RECEIVED, ReferralState.ASSESSED, ReferralState.PLACED, ReferralState.MISSING)


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class ExploitationType(models.TextChoices):
    LABOUR = "labour", "Labour"
    SEXUAL = "sexual", "Sexual"
    CRIMINAL = "criminal", "Criminal"
    DOMESTIC_SERVITUDE = "domestic_servitude", "Domestic servitude"
    ORGAN_HARVESTING = "organ_harvesting", "Organ harvesting"
    OTHER = "other", "Other"


class ExploitationLocation(models.TextChoices):
    UK = "uk", "UK only"
    OVERSEAS = "overseas", "Overseas only"
    BOTH = "both", "UK and overseas"


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Route(models.TextChoices):
    ACCOMMODATION = "accommodation", "Accommodation (safe house)"
    OUTREACH = "outreach", "Outreach"


class DeclineReason(models.TextChoices):
    NOT_ELIGIBLE = "not_eligible", "Not eligible"
    DUPLICATE = "duplicate", "Duplicate"
    INSUFFICIENT_INFORMATION = "insufficient_information", "Insufficient information"
    OTHER = "other", "Other"


class WithdrawReason(models.TextChoices):
    CONSENT_WITHDRAWN = "consent_withdrawn", "Consent withdrawn"
    DUPLICATE = "duplicate", "Duplicate"
    REFERRED_ELSEWHERE = "referred_elsewhere", "Referred elsewhere"
    OTHER = "other", "Other"


class CorrectionReason(models.TextChoices):
    AGE_ASSESSMENT = "age_assessment", "Age assessment"
    TYPING_ERROR = "typing_error", "Typing error"
    NEW_INFORMATION = "new_information", "New information"
    OTHER = "other", "Other"


class RejectReason(models.TextChoices):
    NO_CAPACITY = "no_capacity", "No capacity"
    UNSUITABLE = "unsuitable", "Unsuitable"
    SAFETY_CONCERN = "safety_concern", "Safety concern"
    OTHER = "other", "Other"


class RevokeOfferReason(models.TextChoices):
    """Why the managers withdraw an offer before its answer."""

    PROVIDER_UNSUITABLE = "provider_unsuitable", "Provider unsuitable"
    NO_ANSWER = "no_answer", "No answer from the provider"
    NEEDS_CHANGED = "needs_changed", "Needs changed"
    SAFETY_CONCERN = "safety_concern", "Safety concern"
    OTHER = "other", "Other"


class Misfit(models.TextChoices):
    """Why a provider cannot take a person whatever its free beds and services (a correction can bring
    any of these about after the offer or the placement), each labelled as what the provider does not do.
    A provider with no bed at all of the kind the person needs (none for men, say) cannot take them
    however long they wait, unlike one whose beds of that kind are all taken today."""

    CHILDREN = "children", "support children"
    REGION = "region", "serve the person's region"
    BEDS = "beds", "have any beds of the kind the person needs"


def misfits_in_words(misfits: Iterable[str], region: str = "", bed_kind: str = "") -> str:
    """What a provider does not do for the person in ``region`` needing a bed of ``bed_kind``: "support
    children or serve London", "have any beds for men"; each as its label where they are not given."""

    def in_words(misfit: str) -> str:
        if misfit == Misfit.REGION and region:
            return f"serve {Region(region).label}"
        if misfit == Misfit.BEDS and bed_kind:
            return f"have any beds {BED_FOR[bed_kind]}"
        return Misfit(misfit).label

    return " or ".join(in_words(misfit) for misfit in misfits)


# What makes a case an emergency (``Referral.emergency``), as the alerts of a new one say it.
EMERGENCY_MEANS = "needs a place to stay today"


def emergency_in_words(emergency: bool, due: str | None = None, *, overdue: bool = False) -> str:
    """What a correction of ``emergency`` (whether the person needs a place to stay today) made the case,
    and when the placement is ``due`` (as words), or was if it was already ``overdue`` at the correction:
    "Now an emergency: the placement is due 1 Dec 13:03"."""
    words = "Now an emergency" if emergency else "No longer an emergency"
    if due is None:
        return words
    return (
        f"{words}: the placement was due {due} and is overdue"
        if overdue
        else f"{words}: the placement is due {due}"
    )


class ContactChange(models.TextChoices):
    """What a correction did to how the person may be reached (``safe_to_contact``, ``contact_phone``)
    that whoever may phone them must read at once: the keyworker holding the number may be about to
    ring a phone the exploiter now has. Labelled as the alerts say it; never the number or a name."""

    NOT_SAFE = "not_safe", "no longer safe to contact directly — do not phone the person"
    PHONE_CHANGED = "phone_changed", "contact phone changed — do not use the number you had"


# What a provider that can no longer take the person (a correction made them one it does not take) asks
# of whom, by who reads it ("managers", "provider" or anyone else) and whether it holds the pending offer
# or the placement: the webhook's ``action`` code and the words, ``{duty_line}`` being the managers'
# phone number. The managers withdraw the offer and make a new one (one offer at a time) or reallocate;
# the offer's provider rejects it, which lets them offer again at once; the placed provider phones the
# managers. One source for the case page and the notifications.
MISFIT_ACTIONS: dict[tuple[str, str], tuple[str | None, str]] = {
    ("managers", "offer"): (
        "offer_again",
        "withdraw the offer (provider unsuitable) and make a new one to a provider that does",
    ),
    ("managers", "placement"): ("reallocate", "reallocate them to a provider that does"),
    ("provider", "offer"): (
        "reject_offer",
        "reject the offer (unsuitable), so that the managers can offer them to a provider that does at once",
    ),
    ("provider", "placement"): (
        "phone_managers",
        "phone the managers on {duty_line}: they will reallocate them to a provider that does",
    ),
}
# Everyone else has nothing to do: they hear what the managers will do.
MANAGERS_WILL = {
    "offer": "the managers will offer them to a provider that does",
    "placement": "the managers will reallocate them to a provider that does",
}


def misfit_action(reader: str, provider_of: str) -> tuple[str | None, str]:
    """The code and the words (with ``{duty_line}`` to fill in) of what ``reader`` is to do about the
    provider of the "offer" or the "placement" that can no longer take the person; no code where it has
    nothing to do."""
    return MISFIT_ACTIONS.get((reader, provider_of), (None, MANAGERS_WILL[provider_of]))


class ReallocateReason(models.TextChoices):
    NEEDS_CHANGED = "needs_changed", "Needs changed"
    SAFETY_CONCERN = "safety_concern", "Safety concern"
    PROVIDER_CLOSING = "provider_closing", "Provider closing"
    OTHER = "other", "Other"


class RecoveryOutcome(models.TextChoices):
    INDEPENDENT_LIVING = "independent_living", "Independent living"
    FAMILY_OR_FRIENDS = "family_or_friends", "Family or friends"
    OTHER_SUPPORT = "other_support", "Other support"
    RETURNED_HOME = "returned_home", "Returned home"
    OTHER = "other", "Other"


class ExitReason(models.TextChoices):
    LEFT_SUPPORT = "left_support", "Left support"
    LOST_CONTACT = "lost_contact", "Lost contact"
    MOVED_OUT_OF_AREA = "moved_out_of_area", "Moved out of area"
    OTHER = "other", "Other"


class BedKind(models.TextChoices):
    WOMEN = "women", "Women"
    MEN = "men", "Men"
    FAMILY = "family", "Family"


# Who a bed of each kind is for, in a sentence: "no free bed for a family". Keyed by str: bed kinds
# come from the database and forms as plain strings, and a str enum's member hashes as its value.
BED_FOR: dict[str, str] = {BedKind.WOMEN: "for women", BedKind.MEN: "for men", BedKind.FAMILY: "for a family"}


class Service(models.TextChoices):
    ACCOMMODATION = "accommodation", "Accommodation"
    OUTREACH = "outreach", "Outreach"


STATELESS = "stateless"
UNKNOWN_NATIONALITY = "unknown"


@cache
def nationality_choices() -> list[tuple[str, str]]:
    """ISO 3166-1 alpha-2 codes, by country name, then stateless and unknown (SPEC §3)."""
    countries = sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: pair[1])
    return [*countries, (STATELESS, "Stateless"), (UNKNOWN_NATIONALITY, "Unknown")]


@cache
def nationality_names() -> dict[str, str]:
    return dict(nationality_choices())


@cache
def language_choices() -> list[tuple[str, str]]:
    """ISO 639-1 codes, by language name."""
    languages = ((lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2"))
    return sorted(languages, key=lambda pair: pair[1])


@cache
def language_names() -> dict[str, str]:
    return dict(language_choices())


# The languages the intake form offers as checkboxes, before the list of every other one: those of the
# nationalities referred most to the NRM. From DOMAIN.md's figures: UK (English), Albania (Albanian),
# Vietnam (Vietnamese), Eritrea (Tigrinya), Sudan (Arabic) and Somalia (Somali): after the UK, Eritrea
# and Somalia were the most referred in the second half of 2025. Then the other nationalities often
# referred, for which DOMAIN.md gives no figures: China (Chinese), Afghanistan (Pushto; Dari is close to
# Persian), Iran (Persian, Kurdish), Iraq (Arabic, Kurdish), India (Hindi), Nigeria (English), Ethiopia
# (Amharic), Romania (Romanian), Poland (Polish). Kept short on purpose: a long list of checkboxes is a
# list to scroll again.
COMMON_LANGUAGES = frozenset(
    {"en", "sq", "vi", "ti", "so", "ar", "am", "fa", "ps", "ku", "zh", "hi", "ro", "pl"}
)
