"""The caseload report of SPEC §8: every breakdown a manager is asked for, in a bounded number of queries.

``caseload_report`` runs a fixed set of aggregate queries whatever the size of the caseload: GROUP BY and
conditional aggregation for the counts, and ``percentile_cont`` for medians and 90th percentiles on
PostgreSQL. On other databases (SQLite, the embedded default) the percentiles are computed in Python from
the durations, the same interpolation as ``percentile_cont``. No personal field is read: the overdue list
carries case references only. The report holds the OVERDUE_LIST_LIMIT most overdue cases; ``OverdueCases``
has every one, a page at a time for the API or streamed for the CSV download.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import FIRST_RESPONDER_KINDS, OrganisationKind
from care_providers.models import CareProvider, OfferState, Placement, PlacementOffer
from referrals.choices import (
    OPEN_STATES,
    ExploitationType,
    Gender,
    ReferralState,
    Region,
    nationality_names,
)
from referrals.models import AnonymousNotification, Clock, Deadline, Referral
from referrals.selectors import in_state, open_missing_clock

# The page and the JSON list the most overdue cases; the CSV download carries every one.
OVERDUE_LIST_LIMIT = 200
OVERDUE_CSV_CHUNK = 2000


def _band_label(at_least: int | None, fewer_than: int | None) -> str:
    """A band's name from its bounds in whole days, so that each count of days is named by one band."""
    if at_least is None:
        return f"Under {fewer_than} days"
    if fewer_than is None:
        return f"{at_least} days or more"
    return f"{at_least} to {fewer_than - 1} days"


# (key, label, at least this many days in state, fewer than this many days). The keys are the API's.
AGE_BANDS: tuple[tuple[str, str, int | None, int | None], ...] = tuple(
    (key, _band_label(at_least, fewer_than), at_least, fewer_than)
    for key, at_least, fewer_than in (
        ("under_7_days", None, 7),
        ("days_7_to_30", 7, 30),
        ("days_30_to_90", 30, 90),
        ("over_90_days", 90, None),
    )
)
# The age groups' row of the children whose age is in doubt, after the children's.
AGE_IN_DOUBT = "age_in_doubt"
# The outcomes row of the people ever reported missing, after the row of those missing now.
WENT_MISSING = "went_missing"
OUTCOMES = (
    ReferralState.RECOVERED,
    ReferralState.EXITED,
    ReferralState.MISSING,
    ReferralState.DECLINED,
    ReferralState.WITHDRAWN,
)
# The timeliness rows: (key, clock, label, emergency cases only, standard ones only, or either: None).
TIMELINESS: tuple[tuple[str, Clock, str, bool | None], ...] = (
    ("assessment", Clock.ASSESSMENT, "Time to assessment", None),
    ("placement_emergency", Clock.PLACEMENT, "Time to placement: emergency", True),
    ("placement_standard", Clock.PLACEMENT, "Time to placement: standard", False),
)
REFERRING_KINDS = [kind for kind in OrganisationKind if kind in FIRST_RESPONDER_KINDS]


@dataclass(frozen=True)
class ReportFilter:
    """Which referrals a report covers. Dates are inclusive local dates of ``submitted_at``."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    region: str = ""
    provider_id: int | None = None
    organisation_kind: str = ""

    def submitted_since(self) -> datetime.datetime | None:
        return _local_midnight(self.date_from) if self.date_from else None

    def submitted_before(self) -> datetime.datetime | None:
        return _local_midnight(self.date_to + datetime.timedelta(days=1)) if self.date_to else None


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def referral_conditions(report_filter: ReportFilter, *, via: str = "") -> Q:
    """The filter as conditions on referrals, reached from another model through ``via`` (``referral__``)."""
    conditions = Q()
    since, before = report_filter.submitted_since(), report_filter.submitted_before()
    if since is not None:
        conditions &= Q(**{f"{via}submitted_at__gte": since})
    if before is not None:
        conditions &= Q(**{f"{via}submitted_at__lt": before})
    if report_filter.region:
        conditions &= Q(**{f"{via}region": report_filter.region})
    if report_filter.organisation_kind:
        conditions &= Q(**{f"{via}organisation__kind": report_filter.organisation_kind})
    if report_filter.provider_id is not None:
        # The cases placed with the provider, now or before; not those it was only offered, which it may
        # have rejected or which were placed elsewhere.
        placed = Placement.objects.filter(
            referral_id=OuterRef("referral_id" if via else "pk"), provider_id=report_filter.provider_id
        )
        conditions &= Q(Exists(placed))
    return conditions


def anonymous_notification_conditions(report_filter: ReportFilter) -> Q:
    conditions = Q()
    since, before = report_filter.submitted_since(), report_filter.submitted_before()
    if since is not None:
        conditions &= Q(submitted_at__gte=since)
    if before is not None:
        conditions &= Q(submitted_at__lt=before)
    if report_filter.region:
        conditions &= Q(region=report_filter.region)
    if report_filter.organisation_kind:
        conditions &= Q(organisation__kind=report_filter.organisation_kind)
    if report_filter.provider_id is not None:
        # Anonymous notifications never reach a provider: none belong to a provider's caseload.
        conditions &= Q(pk__in=[])
    return conditions


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)`` over an interval."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        super().__init__(expression, fraction=repr(float(fraction)), output_field=DurationField(), **extra)


class PercentilesCont(Aggregate):
    """``percentile_cont(ARRAY[f, g]) WITHIN GROUP (ORDER BY expr)``: several percentiles of an interval
    from a single sort (PostgreSQL only)."""

    function = "PERCENTILE_CONT"
    name = "PercentilesCont"
    template = "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fractions: tuple[float, ...], **extra: Any) -> None:
        from django.contrib.postgres.fields import ArrayField

        if not all(0 <= fraction <= 1 for fraction in fractions):
            raise ValueError("A percentile is a fraction between 0 and 1.")
        listed = ", ".join(f"{float(fraction)!r}::float8" for fraction in fractions)
        super().__init__(expression, fractions=listed, output_field=ArrayField(DurationField()), **extra)


def percentile(values: list[datetime.timedelta], fraction: float) -> datetime.timedelta | None:
    """Linear interpolation between the closest ranks, as ``percentile_cont`` does."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _percentiles_in_database() -> bool:
    return connection.vendor == "postgresql"


# ---------------------------------------------------------------------------------------- the report


@dataclass
class Share:
    key: str
    label: str
    count: int
    share: float | None


@dataclass
class OpenState:
    state: str
    label: str
    total: int
    bands: dict[str, int]


@dataclass
class Month:
    month: datetime.date
    referrals: int
    anonymous_notifications: int


@dataclass
class ProviderFigures:
    provider_id: int
    name: str
    active_placements: int
    beds_in_use: int
    capacity: int
    occupancy: float | None
    pending_offers: int
    accepted_offers: int
    answered_offers: int
    acceptance_rate: float | None
    median_time_to_accept: datetime.timedelta | None


@dataclass
class Timeliness:
    key: str
    clock: str
    label: str
    # The cases assessed (or placed), and the median and 90th percentile of their times.
    count: int
    median: datetime.timedelta | None
    p90: datetime.timedelta | None
    # The open cases still waiting to be assessed (or placed for the first time), and the longest wait.
    waiting: int
    longest_wait: datetime.timedelta | None
    # Clocks, not cases: a person placed again after a reallocation has a placement clock each time.
    within_deadline: int
    decided: int
    share_within_deadline: float | None


@dataclass
class OverdueCase:
    referral_id: int
    reference: str
    # Its most overdue clock.
    clock: str
    clock_label: str
    # The due time, or for a missing person when they were last seen (see ``_overdue_cases``).
    overdue_since: datetime.datetime
    # The clock's own due time; a missing person's is their next escalation, which may be ahead.
    due_at: datetime.datetime
    overdue_by: datetime.timedelta
    # Its other overdue clocks, most overdue first.
    also_overdue: list[str]


@dataclass(frozen=True)
class TopTie:
    """Nationalities tied across the last place of the top five or ten: it lists ``listed`` of them, the
    first by country code, and its share counts only those. ``names`` are all of them, those listed
    first."""

    top: int  # 5 or 10
    place: int  # the place they share, from 1
    count: int  # the referrals of each
    tied: int  # how many share it
    listed: int  # how many of them the top lists
    names: tuple[str, ...] = ()

    @property
    def listed_names(self) -> tuple[str, ...]:
        return self.names[: self.listed]

    @property
    def left_out_names(self) -> tuple[str, ...]:
        return self.names[self.listed :]

    @property
    def note(self) -> str:
        """ "Albania and Sudan share 5th place with 4 referrals each. Only one of them fits in the top
        five: Albania, chosen because its country code comes first alphabetically, not because it has
        more referrals; the top five's share counts Albania only." """
        referrals = "referral" if self.count == 1 else "referrals"
        listed = in_a_list(self.listed_names)
        one = self.listed == 1
        return (
            f"{in_a_list(self.names)} share {ordinal(self.place)} place with {self.count} {referrals} each. "
            f"Only {in_words(self.listed)} of them {'fits' if one else 'fit'} in the top {in_words(self.top)}: "
            f"{listed}, chosen because {'its country code comes' if one else 'their country codes come'} "
            f"first alphabetically, not because {'it has' if one else 'they have'} more referrals; the top "
            f"{in_words(self.top)}'s share counts {listed if one else f'those {in_words(self.listed)}'} only."
        )


def in_a_list(names: Iterable[str]) -> str:
    """ "Albania, China and Sudan"; "Iraq; Iran, Islamic Republic of; and Nigeria" where a name has a
    comma of its own."""
    names = list(names)
    if len(names) == 1:
        return names[0]
    if any("," in name for name in names):
        return f"{'; '.join(names[:-1])}; and {names[-1]}"
    return f"{', '.join(names[:-1])} and {names[-1]}"


_NUMBERS_IN_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def in_words(number: int) -> str:
    return _NUMBERS_IN_WORDS[number - 1] if 1 <= number <= len(_NUMBERS_IN_WORDS) else str(number)


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def ties_across_the_top(nationalities: list[Share], tops: tuple[int, ...] = (5, 10)) -> list[TopTie]:
    """The ties the top five and the top ten cut through (``nationalities`` most frequent first)."""
    ties = []
    for top in tops:
        if len(nationalities) <= top or nationalities[top - 1].count != nationalities[top].count:
            continue
        count = nationalities[top - 1].count
        places = [place for place, row in enumerate(nationalities) if row.count == count]
        names = tuple(nationalities[place].label for place in places)
        ties.append(TopTie(top, places[0] + 1, count, len(places), top - places[0], names))
    return ties


@dataclass
class CaseloadReport:
    as_at: datetime.datetime
    report_filter: ReportFilter
    referrals: int
    anonymous_notifications: int
    open_cases: int
    open_by_state: list[OpenState]
    monthly: list[Month]
    nationalities: list[Share]
    top5: list[Share]
    top5_share: float | None
    top10_share: float | None
    exploitation_types: list[Share]
    age_groups: list[Share]
    # The children whose age is in doubt: among the age groups' children, not beside them.
    age_in_doubt: Share
    genders: list[Share]
    regions: list[Share]
    organisation_kinds: list[Share]
    providers: list[ProviderFigures]
    provider_choices: list[tuple[int, str]]
    timeliness: list[Timeliness]
    overdue_total: int
    overdue: list[OverdueCase]
    overdue_by_clock: list[Share]
    outcomes: list[Share]
    notes: list[str] = field(default_factory=list)
    # The ties the top five and the top ten cut through, which they break by country code.
    nationality_ties: list[TopTie] = field(default_factory=list)

    @property
    def overdue_truncated(self) -> bool:
        """Whether ``overdue`` holds only the most overdue of ``overdue_total`` cases."""
        return len(self.overdue) < self.overdue_total


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _shares(counts: dict[str, int], labels: dict[str, str], total: int, *, keep_zero: bool) -> list[Share]:
    keys = list(labels) if keep_zero else [key for key in labels if counts.get(key)]
    keys += sorted(key for key in counts if key not in labels and counts[key])
    rows = [
        Share(key, labels.get(key, key), counts.get(key, 0), _ratio(counts.get(key, 0), total))
        for key in keys
    ]
    return rows


def caseload_report(report_filter: ReportFilter, *, now: datetime.datetime | None = None) -> CaseloadReport:
    """Every §8 breakdown for the referrals the filter selects: ten queries on PostgreSQL, eleven elsewhere.

    The queries read one snapshot of the database (on PostgreSQL a repeatable-read transaction, which
    must be the outermost), so that a referral submitted meanwhile is in every figure or in none, and
    the totals are the sums of their breakdowns."""
    outermost = not connection.in_atomic_block
    with transaction.atomic(savepoint=False):  # it only reads: nothing to roll back to
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _caseload_report(report_filter, now=now or timezone.now())


def _caseload_report(report_filter: ReportFilter, *, now: datetime.datetime) -> CaseloadReport:
    conditions = referral_conditions(report_filter)
    referrals = Referral.objects.filter(conditions).order_by()

    totals = _totals(referrals, now)
    total = totals["referrals"]
    open_by_state = totals["open_by_state"]
    monthly, anonymous_total = _monthly(referrals, report_filter, timezone.localdate(now))
    nationalities, exploitation_types = _nationalities_and_exploitation_types(referrals, total)
    demographics, age_in_doubt = _demographics(referrals, total)
    deadline_figures = _deadline_figures(report_filter, now)
    all_providers = _providers(report_filter)
    overdue_cases = OverdueCases(report_filter, now=now)
    overdue_total = overdue_cases.count()

    timeliness = []
    for key, clock, label, emergency in TIMELINESS:
        times = totals["times"][key]
        figures = _clock_figures(deadline_figures, clock, emergency)
        decided = figures["met"] + figures["missed"]
        timeliness.append(
            Timeliness(
                key=key,
                clock=clock,
                label=label,
                count=times["count"],
                median=times["median"],
                p90=times["p90"],
                waiting=times["waiting"],
                longest_wait=times["longest_wait"],
                within_deadline=figures["met"],
                decided=decided,
                share_within_deadline=_ratio(figures["met"], decided),
            )
        )

    clock_labels = dict(Clock.choices)
    overdue_by_clock = [
        Share(clock, clock_labels[clock], _clock_figures(deadline_figures, clock)["overdue"], None)
        for clock in Clock.values
    ]
    for row in overdue_by_clock:
        row.share = _ratio(row.count, overdue_total)

    state_labels = dict(ReferralState.choices)
    outcomes = []
    for state in OUTCOMES:
        count = totals["states"].get(state, 0)
        if state == ReferralState.MISSING:
            outcomes.append(Share(state, "Missing now", count, _ratio(count, total)))
            went_missing = _clock_figures(deadline_figures, Clock.MISSING)["cases"]
            outcomes.append(
                Share(WENT_MISSING, "Went missing at any time", went_missing, _ratio(went_missing, total))
            )
        else:
            outcomes.append(Share(state, state_labels[state], count, _ratio(count, total)))
    top5, top10 = nationalities[:5], nationalities[:10]
    notes = []
    if report_filter.provider_id is not None:
        notes.append(
            "Cases placed with the provider, now or before: a case since moved to another provider, or "
            "whose placement has ended, is still counted; a case only offered to it is not."
        )
        notes.append("Anonymous notifications never reach a provider, so none are counted for one.")
    return CaseloadReport(
        as_at=now,
        report_filter=report_filter,
        referrals=total,
        anonymous_notifications=anonymous_total,
        open_cases=sum(row.total for row in open_by_state),
        open_by_state=open_by_state,
        monthly=monthly,
        nationalities=nationalities,
        top5=top5,
        top5_share=_ratio(sum(row.count for row in top5), total),
        top10_share=_ratio(sum(row.count for row in top10), total),
        exploitation_types=exploitation_types,
        age_groups=demographics["age_groups"],
        age_in_doubt=age_in_doubt,
        genders=demographics["genders"],
        regions=demographics["regions"],
        organisation_kinds=demographics["organisation_kinds"],
        providers=[
            row
            for row in all_providers
            if report_filter.provider_id is None or row.provider_id == report_filter.provider_id
        ],
        provider_choices=[(row.provider_id, row.name) for row in all_providers],
        timeliness=timeliness,
        overdue_total=overdue_total,
        overdue=overdue_cases[:OVERDUE_LIST_LIMIT],
        overdue_by_clock=overdue_by_clock,
        outcomes=outcomes,
        notes=notes,
        nationality_ties=ties_across_the_top(nationalities),
    )


def _durations(values: Iterable[datetime.timedelta | None]) -> dict[str, Any]:
    present = [value for value in values if value is not None]
    return {"count": len(present), "median": percentile(present, 0.5), "p90": percentile(present, 0.9)}


def _band_conditions(now: datetime.datetime, since: str) -> dict[str, Q]:
    """Per age band, the condition that the time held in the field ``since`` falls in it."""
    bands = {}
    for key, _label, at_least, fewer_than in AGE_BANDS:
        condition = Q()
        if at_least is not None:
            condition &= Q(**{f"{since}__lte": now - datetime.timedelta(days=at_least)})
        if fewer_than is not None:
            condition &= Q(**{f"{since}__gt": now - datetime.timedelta(days=fewer_than)})
        bands[key] = condition
    return bands


def _time_in_state_bands(now: datetime.datetime) -> dict[str, dict[str, Q]]:
    """Per open state, the cases in each age band of their time in it. A missing person's time counts
    from when they were last seen (their missing clock's start), as on the case list and the overdue
    list, not from when they were reported missing or reallocated."""
    in_band = _band_conditions(now, "state_changed_at")
    last_seen_in = _band_conditions(now, "started_at")
    return {
        state: {
            band: Q(Exists(open_missing_clock().filter(last_seen_in[band])))
            if state == ReferralState.MISSING
            else in_band[band]
            for band in in_band
        }
        for state in OPEN_STATES
    }


def _totals(referrals: QuerySet[Referral], now: datetime.datetime) -> dict[str, Any]:
    """Counts by state, open cases banded by time in their state, and per timeliness row the times to
    assessment or to placement, and the cases still waiting: one query of conditional aggregates (two
    without percentiles in the database)."""
    bands = _time_in_state_bands(now)
    by_state = {state: in_state(state) for state in ReferralState.values}
    aggregates: dict[str, Any] = {
        "referrals": Count("pk"),
        **{f"state_{state}": Count("pk", filter=by_state[state]) for state in ReferralState.values},
        **{
            f"open_{state}_{band}": Count("pk", filter=by_state[state] & condition)
            for state in OPEN_STATES
            for band, condition in bands[state].items()
        },
    }
    in_database = _percentiles_in_database()
    for key, clock, _label, emergency in TIMELINESS:
        cases = Q() if emergency is None else Q(emergency=emergency)
        if clock == Clock.ASSESSMENT:
            done, time_taken = Q(assessed_at__isnull=False), F("assessed_at") - F("submitted_at")
            waiting, waiting_since = Q(state=ReferralState.RECEIVED), "submitted_at"
        else:
            # To the first placement: a reallocated case's later placement does not count its earlier one.
            done = Q(assessed_at__isnull=False, first_placed_at__isnull=False)
            time_taken = F("first_placed_at") - F("assessed_at")
            waiting, waiting_since = (
                Q(state=ReferralState.ASSESSED, first_placed_at__isnull=True),
                "assessed_at",
            )
        aggregates |= {
            f"{key}_count": Count("pk", filter=cases & done),
            f"{key}_waiting": Count("pk", filter=cases & waiting),
            f"{key}_waiting_since": Min(waiting_since, filter=cases & waiting),
        }
        if in_database:
            aggregates[f"{key}_percentiles"] = PercentilesCont(time_taken, (0.5, 0.9), filter=cases & done)
    row = referrals.aggregate(**aggregates)
    result: dict[str, Any] = {
        "referrals": row["referrals"],
        "states": {state: row[f"state_{state}"] for state in ReferralState.values},
        "open_by_state": [
            OpenState(
                state=str(state),
                label=state.label,
                total=row[f"state_{state}"],
                bands={band: row[f"open_{state}_{band}"] for band in bands[state]},
            )
            for state in OPEN_STATES
        ],
        "times": {
            key: {
                "count": row[f"{key}_count"],
                "median": (row.get(f"{key}_percentiles") or [None, None])[0],
                "p90": (row.get(f"{key}_percentiles") or [None, None])[1],
                "waiting": row[f"{key}_waiting"],
                "longest_wait": now - since if (since := row[f"{key}_waiting_since"]) else None,
            }
            for key, *_ in TIMELINESS
        },
    }
    if not in_database:
        times = list(
            referrals.filter(assessed_at__isnull=False)
            .values_list("submitted_at", "assessed_at", "first_placed_at", "emergency")
            .iterator()
        )
        for key, clock, _label, emergency in TIMELINESS:
            spans = (
                (submitted_at, assessed_at) if clock == Clock.ASSESSMENT else (assessed_at, placed_at)
                for submitted_at, assessed_at, placed_at, urgent in times
                if emergency in (None, urgent)
            )
            result["times"][key] |= _durations(end - start if start and end else None for start, end in spans)
    return result


def _month_start(value: datetime.date | datetime.datetime) -> datetime.date:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


def _months_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _monthly(
    referrals: QuerySet[Referral], report_filter: ReportFilter, today: datetime.date
) -> tuple[list[Month], int]:
    """Referrals and anonymous notifications per calendar month (local time): one query (a UNION).

    Every month of the period is listed, those with none too. Without a last day the period runs to
    this month, so that the months since the last referral show as the months of none they are; a
    period running on past today stops at this month: the months to come are not months of none.
    Without a first day it starts at the first month with a referral or an anonymous notification the
    filters select: the months before say nothing of what the filters select (a provider's months
    before it took its first case)."""
    referral_months = (
        referrals.annotate(month=TruncMonth("submitted_at"), kind=Value("referral"))
        .values("month", "kind")
        .annotate(n=Count("pk"))
        .values_list("month", "kind", "n")
    )
    anonymous_months = (
        AnonymousNotification.objects.filter(anonymous_notification_conditions(report_filter))
        .order_by()
        .annotate(month=TruncMonth("submitted_at"), kind=Value("anonymous"))
        .values("month", "kind")
        .annotate(n=Count("pk"))
        .values_list("month", "kind", "n")
    )
    counts: dict[str, Counter[datetime.date]] = defaultdict(Counter)
    for month, kind, n in referral_months.union(anonymous_months, all=True):
        counts[kind][_month_start(month)] += n
    present = set(counts["referral"]) | set(counts["anonymous"])
    first = _month_start(report_filter.date_from) if report_filter.date_from else min(present, default=None)
    last = today.replace(day=1)
    if report_filter.date_to:
        last = min(_month_start(report_filter.date_to), last)
    months = sorted(set(_months_between(first, last) if first else []) | present)
    monthly = [Month(month, counts["referral"][month], counts["anonymous"][month]) for month in months]
    return monthly, sum(counts["anonymous"].values())


def _nationalities_and_exploitation_types(
    referrals: QuerySet[Referral], total: int
) -> tuple[list[Share], list[Share]]:
    """Every nationality with its count and share of referrals, most frequent first, and the referrals
    per exploitation type. One query, grouped by nationality and by the list of types itself (a few
    dozen combinations), expanded here. A referral may name several types, so their shares can add up
    to more than 100%."""
    nationality_counts: Counter[str] = Counter()
    type_counts: Counter[str] = Counter()
    rows = referrals.values("nationality", "exploitation_types").annotate(n=Count("pk"))
    for nationality, types, n in rows.values_list("nationality", "exploitation_types", "n"):
        nationality_counts[nationality] += n
        for exploitation_type in set(types or []):
            type_counts[exploitation_type] += n
    names = nationality_names()
    nationalities = [
        Share(code, names.get(code, code), n, _ratio(n, total))
        for code, n in sorted(nationality_counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    exploitation_types = _shares(dict(type_counts), dict(ExploitationType.choices), total, keep_zero=True)
    return nationalities, exploitation_types


def _demographics(referrals: QuerySet[Referral], total: int) -> tuple[dict[str, list[Share]], Share]:
    """Adult or child, gender, region and referring organisation kind, and the children whose age is in
    doubt (counted as children, as safeguarding treats them): one query over their combinations."""
    age: Counter[str] = Counter()
    gender: Counter[str] = Counter()
    region: Counter[str] = Counter()
    kind: Counter[str] = Counter()
    in_doubt = 0
    rows = referrals.values("is_child", "age_in_doubt", "gender", "region", "organisation__kind").annotate(
        n=Count("pk")
    )
    for row in rows:
        n = row["n"]
        age["child" if row["is_child"] else "adult"] += n
        in_doubt += n if row["is_child"] and row["age_in_doubt"] else 0
        gender[row["gender"]] += n
        region[row["region"]] += n
        kind[row["organisation__kind"]] += n
    kind_labels = {str(k): k.label for k in REFERRING_KINDS}
    return {
        "age_groups": _shares(dict(age), {"adult": "Adult", "child": "Child"}, total, keep_zero=True),
        "genders": _shares(dict(gender), dict(Gender.choices), total, keep_zero=True),
        "regions": _shares(dict(region), dict(Region.choices), total, keep_zero=True),
        "organisation_kinds": _shares(dict(kind), kind_labels, total, keep_zero=True),
    }, Share(AGE_IN_DOUBT, "Of the children: age in doubt", in_doubt, _ratio(in_doubt, age["child"]))


def _deadline_figures(
    report_filter: ReportFilter, now: datetime.datetime
) -> dict[tuple[str, bool], dict[str, int]]:
    """Per clock, of emergency cases and of the others: how many stopped in time, how many stopped late
    or are open past due, how many are overdue now, and for the missing clock how many cases ever had
    one (a person reported missing twice has had two). One query. A clock stopped in time by the case being
    withdrawn or exited counts neither way: nobody acted on time, nor late. Such a clock stopped with the
    case, after its ``closed_at``; one stopped by the step it waited for (an assessment, a placement)
    stopped before."""
    stopped_with_the_case = Q(
        referral__state__in=(ReferralState.WITHDRAWN, ReferralState.EXITED),
        stopped_at__gte=F("referral__closed_at"),
    )
    stopped_in_time = Q(stopped_at__isnull=False, stopped_at__lte=F("due_at")) & ~stopped_with_the_case
    past_due = Q(stopped_at__isnull=True, due_at__lt=now)
    # A missing person is overdue from the moment they are reported (see ``_overdue_cases``).
    overdue = past_due | Q(stopped_at__isnull=True, clock=Clock.MISSING)
    rows = (
        Deadline.objects.filter(referral_conditions(report_filter, via="referral__"))
        .order_by()
        .values("clock", "referral__emergency")
        .annotate(
            met=Count("pk", filter=stopped_in_time),
            missed=Count("pk", filter=Q(stopped_at__gt=F("due_at")) | past_due),
            overdue=Count("pk", filter=overdue),
            # Only the missing clocks' cases are read: a distinct count of every clock's would cost a sort.
            cases=Count("referral", distinct=True, filter=Q(clock=Clock.MISSING)),
        )
    )
    return {
        (row["clock"], row["referral__emergency"]): {
            "met": row["met"],
            "missed": row["missed"],
            "overdue": row["overdue"],
            "cases": row["cases"],
        }
        for row in rows
    }


def _clock_figures(
    figures: dict[tuple[str, bool], dict[str, int]], clock: str, emergency: bool | None = None
) -> Counter[str]:
    """One clock's deadline figures, of the emergency cases or the others only, or of both (None)."""
    total: Counter[str] = Counter()  # none: 0
    for (kind, urgent), counts in figures.items():
        if kind == clock and emergency in (None, urgent):
            total.update(counts)
    return total


# A missing person comes first among clocks overdue since the same moment.
OVERDUE_CLOCKS = sorted(Clock.values, key=lambda clock: clock != Clock.MISSING)


def _overdue_cases(report_filter: ReportFilter, now: datetime.datetime) -> QuerySet[Deadline, Any]:
    """Every case with an open clock overdue, one row each, most overdue first: its reference, when each
    of its clocks became overdue (None for one that is not) and when the first did.

    A clock is overdue since its due time. A missing person's clock escalates at once and then moves on
    by MISSING_REPEAT_HOURS, so it is never long past due: it is overdue since the person was last seen.
    A case has at most one open clock of each kind.
    """
    overdue_since = Case(When(clock=Clock.MISSING, then=F("started_at")), default=F("due_at"))
    return (
        Deadline.objects.filter(
            referral_conditions(report_filter, via="referral__"),
            Q(clock=Clock.MISSING) | Q(due_at__lt=now),
            stopped_at__isnull=True,
        )
        .order_by()
        .values("referral_id", "referral__reference")
        .annotate(
            overdue_since=Min(overdue_since),
            missing_due_at=Min("due_at", filter=Q(clock=Clock.MISSING)),
            **{f"since_{clock}": Min(overdue_since, filter=Q(clock=clock)) for clock in Clock.values},
        )
        .order_by("overdue_since", F(f"since_{Clock.MISSING}").asc(nulls_last=True), "referral_id")
    )


def _overdue_case(row: dict[str, Any], now: datetime.datetime, labels: dict[str, str]) -> OverdueCase:
    since_each = {clock: row[f"since_{clock}"] for clock in OVERDUE_CLOCKS if row[f"since_{clock}"]}
    clock, *others = sorted(since_each, key=since_each.__getitem__)
    since = since_each[clock]
    return OverdueCase(
        referral_id=row["referral_id"],
        reference=row["referral__reference"],
        clock=clock,
        clock_label=labels[clock],
        overdue_since=since,
        due_at=row["missing_due_at"] if clock == Clock.MISSING else since,
        overdue_by=now - since,
        also_overdue=others,
    )


class OverdueCases:
    """Every case with an overdue open clock, most overdue first, by case reference only: ``rows`` for the
    API to page through (a page is one query; the count is one more), a slice of them, or all of them."""

    def __init__(self, report_filter: ReportFilter, *, now: datetime.datetime) -> None:
        self.now = now
        self.rows = _overdue_cases(report_filter, now)
        self.labels = dict(Clock.choices)

    def count(self) -> int:
        return self.rows.count()

    def __getitem__(self, window: slice) -> list[OverdueCase]:
        return self.shown(self.rows[window])

    def shown(self, rows: Iterable[dict[str, Any]]) -> list[OverdueCase]:
        """The cases of some of ``rows``."""
        return [_overdue_case(row, self.now, self.labels) for row in rows]

    def __iter__(self) -> Iterator[OverdueCase]:
        """Every one, read in chunks as it is consumed (for the CSV download): one query."""
        for row in self.rows.iterator(chunk_size=OVERDUE_CSV_CHUNK):
            yield _overdue_case(row, self.now, self.labels)


def _offer_figures_in_python(offers: QuerySet[PlacementOffer]) -> dict[int, dict[str, Any]]:
    """The per-provider offer figures without percentiles in the database: one query reading every
    offer (with its placement, if any) and counting here. Slower, and only for the embedded default."""
    answered_states = {OfferState.ACCEPTED, OfferState.REJECTED, OfferState.EXPIRED}
    figures: dict[int, dict[str, Any]] = {}
    times: dict[int, list[datetime.timedelta]] = defaultdict(list)
    rows = offers.values_list(
        "provider_id", "state", "offered_at", "responded_at", "placement__pk", "placement__ended_at"
    )
    for provider_id, state, offered_at, responded_at, placement, ended_at in rows.iterator():
        row = figures.setdefault(
            provider_id,
            {
                "active_placements": 0,
                "pending_offers": 0,
                "accepted_offers": 0,
                "answered_offers": 0,
            },
        )
        if placement is not None and ended_at is None:
            row["active_placements"] += 1
        row["pending_offers"] += state == OfferState.PENDING
        row["accepted_offers"] += state == OfferState.ACCEPTED
        row["answered_offers"] += state in answered_states
        if state == OfferState.ACCEPTED and responded_at is not None:
            times[provider_id].append(responded_at - offered_at)
    for provider_id, row in figures.items():
        row["median_to_accept"] = percentile(times[provider_id], 0.5)
    return figures


def _providers(report_filter: ReportFilter) -> list[ProviderFigures]:
    """Every provider's placements and offers among the filtered referrals, and its beds: three queries
    (the offers, each joined to the placement it led to; the beds in use; the list of providers).
    Capacity is configuration; beds in use are active accommodation placements. Beds in use and
    occupancy are today's whatever the filters: a filtered count of beds against the whole capacity
    would make a full house look empty."""
    # The provider filter picks the row; the other filters select the referrals counted in it.
    counted = referral_conditions(
        ReportFilter(**{**report_filter.__dict__, "provider_id": None}), via="referral__"
    )
    active = Q(placement__isnull=False, placement__ended_at__isnull=True)
    accepted = Q(state=OfferState.ACCEPTED)
    aggregates: dict[str, Any] = {
        "active_placements": Count("placement", filter=active),
        "pending_offers": Count("pk", filter=Q(state=OfferState.PENDING)),
        "accepted_offers": Count("pk", filter=accepted),
        "answered_offers": Count(
            "pk", filter=Q(state__in=[OfferState.ACCEPTED, OfferState.REJECTED, OfferState.EXPIRED])
        ),
    }
    in_database = _percentiles_in_database()
    if in_database:
        aggregates["median_to_accept"] = PercentileCont(
            F("responded_at") - F("offered_at"), 0.5, filter=accepted
        )
    offers = PlacementOffer.objects.filter(counted).order_by()
    per_provider: Mapping[int, Mapping[str, Any]]
    if in_database:
        per_provider = {
            row["provider_id"]: row for row in offers.values("provider_id").annotate(**aggregates)
        }
    else:
        per_provider = _offer_figures_in_python(offers)
    beds_in_use = dict(
        Placement.objects.filter(ended_at__isnull=True)
        .exclude(bed_kind="")
        .order_by()
        .values("provider_id")
        .annotate(beds=Count("pk"))
        .values_list("provider_id", "beds")
    )
    # Every provider, so the report also yields the choices of its own provider filter.
    rows: list[dict[str, Any]] = []
    for provider in CareProvider.objects.order_by("name", "pk").values(
        "pk", "name", "beds_women", "beds_men", "beds_family"
    ):
        figures = per_provider.get(provider["pk"], {})
        rows.append({**provider, **{key: figures.get(key, 0) for key in aggregates}})
        rows[-1]["median_to_accept"] = figures.get("median_to_accept")
    result = []
    for row in rows:
        capacity = row["beds_women"] + row["beds_men"] + row["beds_family"]
        result.append(
            ProviderFigures(
                provider_id=row["pk"],
                name=row["name"],
                active_placements=row["active_placements"],
                beds_in_use=beds_in_use.get(row["pk"], 0),
                capacity=capacity,
                occupancy=_ratio(beds_in_use.get(row["pk"], 0), capacity),
                pending_offers=row["pending_offers"],
                accepted_offers=row["accepted_offers"],
                answered_offers=row["answered_offers"],
                acceptance_rate=_ratio(row["accepted_offers"], row["answered_offers"]),
                median_time_to_accept=row["median_to_accept"],
            )
        )
    return result


def provider_choices() -> list[tuple[int, str]]:
    """Providers a report can be filtered by, for a form shown without a report: one query."""
    return list(CareProvider.objects.order_by("name", "pk").values_list("pk", "name"))
