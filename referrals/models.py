from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from .choices import (
    OPEN_STATES,
    ExploitationLocation,
    Gender,
    ReferralState,
    Region,
    Risk,
    Route,
)
from .encryption import (
    EncryptedDateField,
    EncryptedJSONField,
    EncryptedTextField,
    birth_date_digest,
    name_digest,
)

S = ReferralState
# Room for "HBR-2026-004217" and more; the case list filter names this limit when it refuses a longer one.
CASE_REFERENCE_MAX_LENGTH = 20


def eighteenth_birthday(date_of_birth: datetime.date) -> datetime.date:
    """The day a person born on ``date_of_birth`` turns 18: for a birthday on 29 February, 1 March
    in a year without one, as ``services.age_on`` counts."""
    try:
        return date_of_birth.replace(year=date_of_birth.year + 18)
    except ValueError:
        return datetime.date(date_of_birth.year + 18, 3, 1)


class Referral(FSMModelMixin, models.Model):
    """A person referred for care, moving through the §4 workflow.

    ``state`` is protected: it changes only through the transition methods below, which are called by
    the service functions in ``referrals.services``. The methods change this row's fields only.
    """

    reference = models.CharField(max_length=CASE_REFERENCE_MAX_LENGTH)
    state = FSMField(default=S.RECEIVED, choices=S.choices, protected=True)
    state_changed_at = models.DateTimeField(default=timezone.now)

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="referrals", db_index=False
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_referrals"
    )
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)

    # The person (SPEC §3). Names, aliases, date of birth, phone and account are encrypted at rest.
    consent = models.BooleanField(default=False)
    given_name = EncryptedTextField()
    family_name = EncryptedTextField()
    aliases = EncryptedTextField(blank=True, default="")
    date_of_birth = EncryptedDateField(null=True, blank=True)
    age_estimate = models.PositiveSmallIntegerField(null=True, blank=True)
    age_in_doubt = models.BooleanField(default=False)
    is_child = models.BooleanField(default=False)
    # A child is referred to the local authority's children's services first (safeguarding), and the
    # NRM form asks which one and whom there: the managers placing the child coordinate with them. Both
    # are encrypted: the authority narrows where a child is far more than the region, and the contact
    # names a person (a social worker, their phone or email). Their length is the intake's to check
    # (``validation``). Defaults in the database too, for a release before them, which writes neither.
    # The authority was stored in clear until migration 0013, and the release before it, running on while
    # the new one rolls out, still writes it so: read in clear until ``rotate_field_keys`` encrypts it.
    local_authority = EncryptedTextField(blank=True, default="", db_default="", clear_text_read=True)
    local_authority_contact = EncryptedTextField(blank=True, default="", db_default="")
    gender = models.CharField(max_length=10, choices=Gender.choices)
    nationality = models.CharField(max_length=9)
    second_nationality = models.CharField(max_length=9, blank=True, default="")
    languages = models.JSONField(default=list)
    interpreter_needed = models.BooleanField(default=False)
    exploitation_types = models.JSONField(default=list)
    exploitation_location = models.CharField(max_length=10, choices=ExploitationLocation.choices)
    region = models.CharField(max_length=20, choices=Region.choices)
    needs_accommodation = models.BooleanField(default=False)
    emergency = models.BooleanField(default=False)
    needs_medical = models.BooleanField(default=False)
    has_dependants = models.BooleanField(default=False)
    safe_to_contact = models.BooleanField(default=False)
    contact_phone = EncryptedTextField(blank=True, default="")
    account = EncryptedTextField(blank=True, default="")
    # Police and case-file numbers lead straight to the person: encrypted like the account.
    responder_reference = EncryptedTextField(blank=True, default="")
    crime_reference = EncryptedTextField(blank=True, default="")

    # Keyed digests for duplicate detection without plaintext (SPEC §3, issue: encryption at rest).
    name_digest = models.CharField(max_length=64)
    birth_date_digest = models.CharField(max_length=64, blank=True, default="")

    # Set by the workflow.
    risk = models.CharField(max_length=10, choices=Risk.choices, blank=True, default="")
    route = models.CharField(max_length=20, choices=Route.choices, blank=True, default="")
    assessed_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    # Kept through reallocations, for the time from assessment to a first placement (SPEC §8).
    first_placed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    # Whether the managers and the placed provider were told the person is now 18
    # (``referrals.coming_of_age``). Not when: that would date the birthday in clear. A default in the
    # database too, for the release before this one, which writes none.
    told_now_18 = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        # An index serves its leading column alone too, so a foreign key or field that leads one has no
        # index of its own; and none is for LIKE: references and digests are matched whole.
        indexes = [
            models.Index(fields=["organisation", "-submitted_at"]),
            models.Index(fields=["state", "submitted_at"]),
            models.Index(fields=["region", "state"]),
            models.Index(fields=["name_digest"], name="referral_name_digest"),
        ]
        constraints = [models.UniqueConstraint(fields=["reference"], name="one_referral_per_reference")]

    def __str__(self) -> str:
        return self.reference

    def person_digests(self, *, key: str | None = None) -> tuple[str, str]:
        """The name and date-of-birth digests of the person's (decrypted) fields, under FIELD_HASH_KEY or
        ``key``: what ``name_digest`` and ``birth_date_digest`` hold while they are up to date."""
        date_of_birth: datetime.date | None = self.date_of_birth  # type: ignore[assignment]  # decrypted
        return (
            name_digest(self.given_name, self.family_name, key=key),
            birth_date_digest(date_of_birth, key=key),
        )

    @property
    def turns_18_on(self) -> datetime.date | None:
        """The day a person referred as a child by their date of birth turns 18 (SPEC §3); None for
        anyone else: an adult, a child by an age estimate alone (which could be a year out), or one
        treated as a child because their age is in doubt though their date of birth says 18 or over.
        Personal data, as the date of birth is."""
        date_of_birth: datetime.date | None = self.date_of_birth  # type: ignore[assignment]  # decrypted
        if not self.is_child or date_of_birth is None:
            return None
        birthday = eighteenth_birthday(date_of_birth)
        return birthday if birthday > timezone.localdate(self.submitted_at) else None

    def _entered_state(self) -> None:
        self.state_changed_at = timezone.now()

    @transition(field=state, source=S.RECEIVED, target=S.ASSESSED)
    def assess(self, *, risk: str, route: str) -> None:
        self.risk = risk
        self.route = route
        self.assessed_at = timezone.now()
        self._entered_state()

    @transition(field=state, source=S.ASSESSED, target=S.ASSESSED)
    def reassess(self, *, risk: str, route: str) -> None:
        """The managers change the assessment while the person waits for a placement (their needs
        changed); the referral stays assessed. ``assessed_at`` keeps the first assessment's time, from
        which the reports count the time to a first placement (SPEC §8)."""
        self.risk = risk
        self.route = route

    @transition(field=state, source=S.RECEIVED, target=S.DECLINED)
    def decline(self) -> None:
        self.closed_at = timezone.now()
        self._entered_state()

    def _not_reallocated_while_missing(self) -> bool:
        """Not reallocated while missing and not found since: withdrawing would stop the escalations."""
        return self.state != S.ASSESSED or not self.still_missing()

    @transition(
        field=state,
        source=[S.RECEIVED, S.ASSESSED],
        target=S.WITHDRAWN,
        # django-fsm: a condition on any Model
        conditions=[_not_reallocated_while_missing],  # type: ignore[list-item]
    )
    def withdraw(self) -> None:
        self.closed_at = timezone.now()
        self._entered_state()

    @transition(field=state, source=S.ASSESSED, target=S.ASSESSED)
    def offer(self) -> None:
        """A placement offer is made; the referral stays assessed."""

    @transition(field=state, source=S.ASSESSED, target=S.ASSESSED)
    def reject(self) -> None:
        """The offered provider turned the offer down; the referral stays assessed."""

    @transition(field=state, source=S.ASSESSED, target=S.ASSESSED)
    def expire_offer(self) -> None:
        """The offer response clock ran out; the referral stays assessed."""

    @transition(field=state, source=S.ASSESSED, target=S.ASSESSED)
    def revoke_offer(self) -> None:
        """The managers withdrew the offer before its answer; the referral stays assessed."""

    @transition(field=state, source=S.ASSESSED, target=S.PLACED)
    def accept(self) -> None:
        self.placed_at = timezone.now()
        if self.first_placed_at is None:
            self.first_placed_at = self.placed_at
        self._entered_state()

    @transition(field=state, source=S.PLACED, target=S.PLACED)
    def record_progress(self) -> None:
        """A progress note; the referral stays placed."""

    @transition(field=state, source=S.PLACED, target=S.MISSING)
    def report_missing(self) -> None:
        self._entered_state()

    def still_missing(self) -> bool:
        """Missing, or reallocated while missing and not found since: the missing clock still runs."""
        if self.state == S.MISSING:
            return True
        return self.deadlines.filter(clock=Clock.MISSING, stopped_at__isnull=True).exists()

    @transition(
        field=state,
        source=[S.MISSING, S.ASSESSED],
        target=RETURN_VALUE(S.PLACED, S.ASSESSED),
        conditions=[still_missing],  # type: ignore[list-item]  # django-fsm: a condition on any Model
    )
    def found(self) -> str:
        """Back in the placement; or, for a person reallocated while missing, found and still waiting
        for a new placement."""
        # Either way they enter their state now: one reallocated while missing counted as missing until
        # found (``selectors.in_state``), and waits for a placement only from now, not from the reallocation.
        self._entered_state()
        return S.ASSESSED if self.state == S.ASSESSED else S.PLACED

    @transition(field=state, source=[S.PLACED, S.MISSING], target=S.ASSESSED)
    def reallocate(self) -> None:
        self.placed_at = None
        self._entered_state()

    @transition(field=state, source=S.PLACED, target=S.RECOVERED)
    def recover(self) -> None:
        self.closed_at = timezone.now()
        self._entered_state()

    @transition(field=state, source=list(OPEN_STATES), target=None)
    def correct(self, *, changes: dict[str, Any], child: bool) -> None:
        """Correct the person's details (``services.correct_referral`` checks and words them); the state
        does not change. The digests follow the name and date of birth, so that duplicate detection
        finds the person as corrected; ``child`` is the case's ``is_child`` as at its submission. A child
        whose 18th birthday the correction puts after today is told of it again when it comes
        (``referrals.coming_of_age``)."""
        for name, value in changes.items():
            setattr(self, name, value)
        self.name_digest, self.birth_date_digest = self.person_digests()
        self.is_child = child
        turns_18_on = self.turns_18_on
        if turns_18_on is None or turns_18_on > timezone.localdate():
            self.told_now_18 = False

    def last_correction(self) -> int:
        """The id of the case's latest correction (0 if none): what a correction form was opened after."""
        latest = self.transitions.filter(transition="correct").order_by("-pk").values_list("pk", flat=True)
        return latest.first() or 0

    def _in_support_or_still_missing(self) -> bool:
        """Placed or missing; or reallocated while missing and not found since."""
        return self.state != S.ASSESSED or self.still_missing()

    @transition(
        field=state,
        source=[S.PLACED, S.MISSING, S.ASSESSED],
        target=S.EXITED,
        conditions=[_in_support_or_still_missing],  # type: ignore[list-item]  # as above
    )
    def exit(self) -> None:
        """Support ends; also for a person who went missing, was reallocated, and never came back."""
        self.closed_at = timezone.now()
        self._entered_state()


class ReferenceCounter(models.Model):
    """The last case number issued in a year, on SQLite (PostgreSQL has a sequence per year instead).

    See ``referrals.references``.
    """

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class TransitionLog(models.Model):
    """Who moved a referral from which state to which, when, and with what input (SPEC §4)."""

    referral = models.ForeignKey(
        Referral, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )
    transition = models.CharField(max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    # Empty when Harbour itself acted, as when an offer's response clock runs out.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    at = models.DateTimeField(default=timezone.now)
    # Encrypted: inputs carry free-text notes about the person.
    input = EncryptedJSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["referral", "at"])]

    def __str__(self) -> str:
        return f"{self.referral_id} {self.transition}"


class Clock(models.TextChoices):
    ASSESSMENT = "assessment", "Assessment"
    PLACEMENT = "placement", "Placement"
    OFFER_RESPONSE = "offer_response", "Offer response"
    CHECK_IN = "check_in", "Check-in"
    RECOVERY_REVIEW = "recovery_review", "Recovery review"
    MISSING = "missing", "Missing"


class Deadline(models.Model):
    """One clock on a case (SPEC §5): data with a due time, swept by a periodic task.

    ``remind_at`` is when ``DEADLINE_REMINDER_FRACTION`` of the span has passed, in whole working days
    at the due time of day for a clock that counts working days, so that it never falls on a weekend or
    a bank holiday (``deadlines.reminder_at``); the ``missing`` clock has no reminder. The sweep sets ``reminded_at``
    and ``breached_at`` once each; the ``missing`` clock instead moves ``due_at`` on after every
    escalation. A clock stops (``stopped_at``) when the transition it waits for happens. One nobody can
    meet for a while (the recovery review while the person is missing) is ``paused``: stopped, until it
    runs on with the time it had left (``deadlines.pause_clock``, ``deadlines.resume_clock``).
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="deadlines", db_index=False)
    offer = models.ForeignKey(
        "care_providers.PlacementOffer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    clock = models.CharField(max_length=20, choices=Clock.choices)
    started_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    escalations = models.PositiveIntegerField(default=0)
    stopped_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            # The sweep reads only clocks that are due: these partial indexes keep it independent of
            # the number of open clocks.
            models.Index(
                fields=["remind_at"],
                name="deadline_reminder_due",
                condition=Q(stopped_at__isnull=True, reminded_at__isnull=True, remind_at__isnull=False),
            ),
            models.Index(
                fields=["due_at"],
                name="deadline_breach_due",
                condition=Q(stopped_at__isnull=True, breached_at__isnull=True),
            ),
            models.Index(fields=["referral", "clock"], name="deadline_referral_clock"),
            # The caseload report's overdue list: open clocks, most overdue first.
            models.Index(fields=["due_at"], name="deadline_open_due", condition=Q(stopped_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "clock"],
                condition=Q(stopped_at__isnull=True),
                name="one_open_clock_of_a_kind_per_referral",
            ),
            models.CheckConstraint(
                condition=Q(paused=False) | Q(stopped_at__isnull=False), name="a_paused_clock_is_stopped"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clock} due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def met_from(self) -> datetime.datetime:
        """From when a step may meet the clock ahead of its due time: once its reminder has gone (the
        recovery review: a note on day 1 is not the review)."""
        return self.remind_at or self.due_at

    @property
    def left_when_paused(self) -> datetime.timedelta | None:
        """For a paused clock, the time it will have left once it runs on (``deadlines.resume_clock``
        moves its due time on by as long as it was paused): negative if it was overdue when paused; None
        for a clock that is not paused."""
        if not self.paused or self.stopped_at is None:
            return None
        return self.due_at - self.stopped_at


class ReferralDraft(models.Model):
    """A first responder's unfinished referral, kept encrypted, purged after DRAFT_LIFETIME_DAYS."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts")
    data = EncryptedJSONField(default=dict)
    # The key of the form it was first saved from (``idempotency.web``): saved again or submitted from
    # that same form, after going Back to it, it is this draft that is saved or submitted.
    form_key = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # Counts its saves. The form carries the version it was loaded from: a save or submit from an older
    # one (the draft changed on another device since) neither replaces nor deletes it.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"Draft {self.pk}"

    @property
    def person_name(self) -> str:
        """The person's name as typed so far; empty if none is."""
        data: dict[str, Any] = self.data  # type: ignore[assignment]  # decrypted
        return " ".join(str(data.get(name) or "").strip() for name in ("given_name", "family_name")).strip()


class UnsentForm(models.Model):
    """What was typed into a form that arrived after its user's session had ended, kept encrypted for
    UNSENT_FORM_LIFETIME_MINUTES for that user alone, and deleted once shown to them on the same form."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The form's address (the path it posts to): it is shown again on the page at that address.
    form = models.CharField(max_length=200)
    data = EncryptedJSONField(default=dict)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        # Several per user and form: each one sent after the session ended is kept, none replaced.
        indexes = [models.Index(fields=["owner", "form"], name="unsent_form_owner_form")]

    def __str__(self) -> str:
        return f"Unsent form {self.pk}"


class AnonymousNotification(models.Model):
    """A duty-to-notify report of an adult who did not consent (SPEC §3). Never holds personal details."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="anonymous_notifications"
    )
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    gender = models.CharField(max_length=10, choices=Gender.choices)
    nationality = models.CharField(max_length=9)
    exploitation_types = models.JSONField(default=list)
    region = models.CharField(max_length=20, choices=Region.choices)

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self) -> str:
        return f"Anonymous notification {self.pk}"
