"""Web pages of the referral workflow: intake, drafts, case lists, queues, the case page and its actions.

Views are thin: cases are looked up through ``referrals.selectors`` (out of scope is a 404, exactly as
for no such case), every action calls its service in ``referrals.services``, and domain errors are turned
into form errors or a clear message on the page in one place (``apply_domain_error``).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods
from django_fsm import can_proceed

from accounts.models import User
from accounts.sessions import SIGNED_OUT_EVERYWHERE, signed_out_words, why_signed_out
from audit.services import draft_label, record_draft_reads, record_read
from care_providers.models import CareProvider, OfferState, Placement, PlacementOffer
from care_providers.selectors import (
    active_placement_for,
    free_beds_of,
    last_offer_to,
    pending_offer_for,
    provider_names,
    suggested_providers,
)
from care_providers.services import bed_needed, provider_misfits
from idempotency.web import form_done, form_key_of, sent_once, shown_form_key

from . import services
from .choices import (
    BED_FOR,
    OPEN_STATES,
    BedKind,
    ExploitationType,
    Misfit,
    ReferralState,
    RejectReason,
    Route,
    language_names,
    misfit_action,
    misfits_in_words,
    nationality_names,
)
from .drafts import (
    discard_draft,
    draft_saved_from,
    fields_that_differ,
    get_live_draft,
    keep_as_new_draft,
    live_drafts,
    save_draft,
)
from .exceptions import (
    CaseClosed,
    CorrectedSince,
    DraftChangedElsewhere,
    HarbourError,
    NoCapacity,
    NotPermitted,
    OfferAlreadyPending,
    OfferNotPending,
    PersonStillMissing,
    ProviderNoLongerSuitable,
    TransitionNotAllowed,
)
from .forms import (
    AcceptForm,
    AnonymousNotificationForm,
    AssessForm,
    CaseFilterForm,
    CorrectForm,
    DeclineForm,
    ExitForm,
    FoundForm,
    HarbourForm,
    MissingForm,
    OfferForm,
    ProgressForm,
    ReallocateForm,
    ReassessForm,
    RecoverForm,
    ReferralForm,
    RejectForm,
    RevokeOfferForm,
    WithdrawForm,
)
from .local_time import MOMENT_NEAR, local_time
from .models import Clock, Deadline, Referral, ReferralDraft, UnsentForm
from .permissions import (
    OFFERED_PROVIDER,
    may_perform,
    may_read_correction_note,
    may_read_offer_note,
    may_see_actor,
    may_see_clock,
    may_see_full_account,
    may_see_identity,
    may_see_transition_input,
    may_submit,
)
from .references import reference_as_typed
from .selectors import (
    LIKELY_DUPLICATES_SHOWN,
    anonymous_notifications_visible_to,
    assessed_not_placed,
    case_history_visible_to,
    case_list_of,
    case_offers_and_placement,
    case_open_deadlines,
    get_case,
    get_visible_referral,
    in_state,
    likely_duplicates,
    open_clock_due,
    possible_duplicates_of,
    referrals_visible_to,
    triage_queue,
)
from .unsent_forms import (
    address_after_sign_in,
    as_posted,
    initial_from,
    keep_unsent_form,
    kept_copy_expired,
    signed_in_owner,
    signed_owner,
    take_unsent_form,
    typed_values,
)
from .validation import REFERRAL_FIELDS
from .wording import (
    ADD_DUTY_PHONE,
    NOW_18,
    age_words,
    coming_of_age_words,
    correction_in_words,
    emergency_submitted_words,
    input_in_words,
    input_label,
    last_offer_words,
    late_answer_words,
    managers_duty_line,
    offer_ended_words,
    placement_offer_ended_words,
    provider_duty_phone,
    revocation_in_words,
    transition_in_words,
)

PAGE_SIZE = 50
# A draft's version as the form carries it: in the range of the database's integer column.
DRAFT_VERSION_SHAPE = re.compile(r"[0-9]{1,9}")
MULTI_VALUE_FIELDS = ("languages", "exploitation_types")


# ------------------------------------------------------------------------------------------ helpers


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class CaseNotVisible(Http404):
    """No such case, or not one the user may see: the same 404 either way."""


def visible_referral_or_404(
    user: User, referral_id: int, fetch: Callable[[User, int], Referral] = get_visible_referral
) -> Referral:
    """The case if the user may see it; a 404, the same as for no such case, otherwise."""
    try:
        return fetch(user, referral_id)
    except Referral.DoesNotExist as exc:
        raise CaseNotVisible("No such case.") from exc


View = Callable[..., HttpResponse]


def login_required_keeping_typed_work(form_of: Callable[..., HarbourForm | None]) -> Callable[[View], View]:
    """``login_required`` for a form's view, except that a form sent after the session ended keeps what
    was typed, for the user its signed ``owner`` field names, until they sign in again (SPEC §1).

    ``form_of`` gives the view's unbound form from the view's arguments (None for no form): only that
    form's fields are kept. The view shows them again with ``show_unsent_form``; nothing is performed.
    """

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated:
                return view(request, *args, **kwargs)
            owner = signed_owner(request) if request.method == "POST" else None
            unsent = (
                keep_unsent(request, owner, form_of(*args, **kwargs), kwargs) if owner is not None else None
            )
            if unsent is None:
                return _to_sign_in_unkept(request)
            messages.info(
                request,
                f"{signed_out_words(why_signed_out(request))} Nothing was sent: sign in again within "
                f"{settings.UNSENT_FORM_LIFETIME_MINUTES} minutes to see what you typed.",
            )
            return redirect_to_login(address_after_sign_in(request, unsent))

        wrapper.unsent_form_of = form_of  # type: ignore[attr-defined]  # for csrf_failure
        return wrapper

    return decorator


def _to_sign_in_unkept(request: HttpRequest) -> HttpResponse:
    """To the sign-in page, keeping nothing. A session ended by a new password or ``end_sign_ins`` voids
    the form's ``owner``; its user is still told so, as that may be someone else's doing."""
    if request.method == "POST" and why_signed_out(request) == SIGNED_OUT_EVERYWHERE:
        messages.info(request, f"{signed_out_words(SIGNED_OUT_EVERYWHERE)} Nothing was sent or kept.")
    return redirect_to_login(request.get_full_path())


def keep_unsent(
    request: HttpRequest, owner: User, form: HarbourForm | None, kwargs: dict[str, Any]
) -> UnsentForm | None:
    """Keep what was typed into the form for its owner, to be shown on it once they are back; None if
    nothing was typed."""
    typed = typed_values(form, request.POST) if form is not None else {}
    if not typed:
        return None
    # The case the action is on, for the case's own trail, if the owner still sees it.
    cases = referrals_visible_to(owner).filter(pk=kwargs["pk"]) if "pk" in kwargs else None
    referral = cases.only("pk").first() if cases is not None else None
    return keep_unsent_form(owner=owner, form=request.path, data=typed, referral=referral, request=request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check (``CSRF_FAILURE_VIEW``).

    Signing in gives the browser a new CSRF token, so a form left open while its user signed in again
    (in another tab, after the session ended) is refused. If the form is the signed-in user's own, what
    was typed is kept as when a session ends, and they go back to the form to check it and send it
    again; nothing is performed. Any other refusal gets a page that says what to do.
    """
    owner = signed_in_owner(request) if request.method == "POST" else None
    if owner is None:
        return render(request, "403_csrf.html", status=403)
    match = resolve(request.path)  # one of Harbour's forms: the owner's signature is for this address
    if match.view_name == "referrals:intake" and may_submit(owner):
        messages.warning(
            request,
            "The form was not sent, because you signed in again after opening it. What you typed is "
            "saved as a draft: check it and send it again.",
        )
        try:
            draft = save_draft(
                owner=owner,
                data=_draft_data(request.POST),
                draft_id=_draft_id(request),
                version=_loaded_version(request),
            )
        except DraftChangedElsewhere as changed:
            return _kept_apart_from(request, owner, changed.draft, submitting=False)
        return redirect(f"{reverse('referrals:intake')}?draft={draft.pk}")
    form_of = getattr(match.func, "unsent_form_of", None)
    if (
        form_of is not None
        and keep_unsent(request, owner, form_of(*match.args, **match.kwargs), match.kwargs) is not None
    ):
        return redirect(request.path)
    return render(request, "403_csrf.html", status=403)


def show_unsent_form(request: HttpRequest, form: HarbourForm, referral: Referral | None = None) -> bool:
    """Fill the unbound form with what its user typed before their session ended, if that was kept for
    this form and has not expired, and say so; True if it was. Say so too if it has expired."""
    typed = take_unsent_form(owner=_user(request), form=request.path, request=request, referral=referral)
    if typed is None:
        if kept_copy_expired(request):
            messages.warning(
                request,
                f"What you typed was kept for {settings.UNSENT_FORM_LIFETIME_MINUTES} minutes and has been "
                "deleted, so nothing was recorded: fill in the form again.",
            )
        return False
    form.initial = {**form.initial, **initial_from(form, typed)}
    messages.warning(
        request,
        "You were signed out before this was sent, so nothing was recorded. What you typed is below; "
        "check it and send it again.",
    )
    return True


def ended_offer_words(offer: PlacementOffer) -> str:
    """Why a care provider can no longer open a case it was offered: how and when the offer ended, as an
    answer to it hears (``offer_ended_words``), or that the placement it led to has."""
    if offer.state in services.ENDED_UNACCEPTED:
        return f"this offer {offer_ended_words(offer)}"
    return "this person is no longer placed with you."


def explains_an_ended_offer(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A care provider following a link to a case whose offer to it has ended (it expired, was withdrawn
    or rejected, or the placement ended) is told why on its offers page instead of meeting a 404. An
    action with something typed into it (``holds_typed_text``), sent once the case left the provider's
    hands or kept from before the session ended, is shown again instead, refused (``not_recorded``). An
    answer to an offer that ended unaccepted is told how and when it ended, as the API tells it
    (``late_answer_words``).
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, pk: int, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, pk, *args, **kwargs)
        except CaseNotVisible:
            offer = last_offer_to(_user(request).provider, pk)
            if offer is None or offer.state == OfferState.PENDING:
                raise
            transition = kwargs.get("transition", "")
            if request.method == "POST":
                late_answer = transition in OFFERED_PROVIDER and offer.state in services.ENDED_UNACCEPTED
                form = typed_action_form(transition, request.POST)
                if form is not None:
                    why = (
                        placement_offer_ended_words(offer)
                        if late_answer
                        else capfirst(ended_offer_words(offer))
                    )
                    return not_recorded(request, offer.referral, transition, form, why, in_sight=False)
                if late_answer:
                    # Its words name the case by its reference, as a message waiting in a cookie may.
                    messages.info(request, late_answer_words(offer))
                    return redirect("care_providers:offers")
            if request.method == "GET":
                return closed_action_answer(
                    request,
                    offer.referral,
                    transition,
                    ended_offer_words(offer),
                    then=reverse("care_providers:offers"),
                    in_sight=False,
                )
            messages.info(request, f"{offer.referral.reference}: {ended_offer_words(offer)}")
            return redirect("care_providers:offers")

    return wrapper


def closed_action_answer(
    request: HttpRequest, referral: Referral, transition: str, why: str, *, then: str, in_sight: bool = True
) -> HttpResponse:
    """Opening an action that has closed (``why``) leads to the page ``then``, which says why. What the
    user typed into it before their session ended is taken. If it holds typed text (``typed_action_form``)
    it comes back refused (``not_recorded``), as it does when sent too late, whoever the user and whatever
    closed the action; ``in_sight`` false if the case has left their hands. Anything else (choices alone)
    is deleted unseen, and the user told.
    """
    typed = take_unsent_form(
        owner=_user(request),
        form=request.path,
        request=request,
        referral=referral,
        shown=lambda typed: typed_action_form(transition, as_posted(typed)) is not None,
    )
    if typed is not None:
        form = typed_action_form(transition, as_posted(typed))
        if form is not None:
            return not_recorded(request, referral, transition, form, capfirst(why), in_sight=in_sight)
        why += " What you typed before you were signed out was not sent, and is not kept."
    messages.info(request, f"{referral.reference}: {why}")
    return redirect(then)


# The fields of an action's form that hold what its user typed, not a choice from a list: a note (a
# safety concern, say), when the person was last seen. Refused, such a form is not thrown away unsaid.
TYPED_FIELDS = (
    "note",
    "notes",
    "last_seen_at",
    "seen_at",
    # A correction's details, typed from the person or a local authority's age assessment.
    "given_name",
    "family_name",
    "aliases",
    "date_of_birth",
    "age_estimate",
    "local_authority",
    "local_authority_contact",
    "contact_phone",
)


def closed_action_refused(
    request: HttpRequest, referral: Referral, transition: str, refusal: HarbourError
) -> HttpResponse:
    """A form sent to an action the user may not take (403) or the case's state has closed (409): refused
    with why, without the form, so that nothing looks still to be done. A note typed into it is shown
    again to be copied, as when an offer closes under a provider (``not_recorded``)."""
    # A role's refusal while the state allows the action, a missing person's (whose state alone says
    # neither why nor what to do instead) and a closed case's (how and when it closed) are said as they are.
    role_refused = isinstance(refusal, NotPermitted) and can_proceed(getattr(referral, transition))
    if role_refused or isinstance(refusal, PersonStillMissing | CaseClosed):
        why, status = refusal.message, refusal.status_code
    else:
        # The state closed it, or ended the user's part in the case (a provider's, at an exit): say what
        # the case is now, as the page does when opened; what became of an offer to withdraw says more,
        # naming its provider.
        why = (
            refusal.message
            if transition == "revoke_offer"
            else STATE_NOW.get(ReferralState(referral.state), refusal.message)
        )
        status = TransitionNotAllowed.status_code
    typed = typed_action_form(transition, request.POST)
    if typed is not None:
        answer = not_recorded(request, referral, transition, typed, why)
        answer.status_code = status
        return answer
    context = {"referral": referral, "name": transition, "spec": TRANSITIONS[transition], "problem": why}
    return render(request, "referrals/case_action.html", context, status=status)


def holds_typed_text(form: HarbourForm) -> bool:
    """Whether something was typed into the posted form's ``TYPED_FIELDS``."""
    return any(
        form.data.get(form.add_prefix(name), "").strip() for name in TYPED_FIELDS if name in form.fields
    )


def typed_action_form(transition: str, data: Mapping[str, Any]) -> HarbourForm | None:
    """The action's form as it was sent (``data``), if something was typed into it."""
    if transition not in TRANSITIONS:
        return None
    form = _action_form(transition, data, suggestions=[], recovery_review_waiting=False)
    return form if holds_typed_text(form) else None


# What each action whose form holds typed text (``TYPED_FIELDS``) records, as "Your … was not recorded"
# names it when the action has closed under its user.
NOT_RECORDED_WORDS = {
    "assess": "assessment",
    "decline": "decline",
    "withdraw": "withdrawal",
    "offer": "offer",
    "reject": "rejection",
    "record_progress": "progress note",
    "report_missing": "report that the person is missing",
    "found": "report that the person is found",
    "reallocate": "reallocation",
    "recover": "record of the recovery",
    "exit": "record of the exit from support",
    "correct": "correction",
    "reassess": "change of assessment",
    "revoke_offer": "withdrawal of the offer",
}


def not_recorded(
    request: HttpRequest,
    referral: Referral,
    transition: str,
    form: HarbourForm,
    why: str,
    *,
    in_sight: bool = True,
) -> HttpResponse:
    """An action refused because it can no longer be taken by the user (the case's state moved on under
    them, the offer no longer awaits its answer, or the case has left the provider's hands), shown again
    as it was typed, saying so at the top (409), to be copied: nothing on the page sends it again, as that
    could only be refused again. Harbour cannot record what was typed now, so the user is told how to get
    it to the managers (a manager, to the other managers): a person nobody knows is missing by phone at
    once; an offer's note by phone to the provider deciding on another offer now, or with the next offer
    while one can still be made; a decline's note with a withdrawal if the case can still be withdrawn; a
    note withdrawing an offer the provider accepted first with a reallocation; a note as a progress note if
    the provider can still write one; by other means otherwise. A case out of the user's sight
    (``in_sight`` false) shows its reference alone, and the way on is the offers page.
    """
    user = _user(request)
    managers = "the other managers" if user.is_manager else "the managers"
    may_offer = transition == "offer" and may_perform(user, "offer", referral) and can_proceed(referral.offer)
    pending = pending_offer_for(referral) if may_offer else None
    # A plain message or one holding the managers' duty line, escaped when the error is written.
    how: str
    if transition == "report_missing" and not referral.still_missing():
        how = format_html(
            "Harbour has not told anyone that the person is missing: phone {} now on {} (24 hours) to tell "
            "them, quoting case {}.",
            managers,
            managers_duty_line(),
            referral.reference,
        )
    elif transition == "report_missing":
        # Reported first by someone else: the time typed here may be another, which only they can weigh.
        how = format_html(
            "If the time they were last seen that you give is not the one on the case, or you know more, "
            "phone {} on {}, quoting case {}.",
            managers,
            managers_duty_line(),
            referral.reference,
        )
    elif services.offer_awaits_answer(pending):
        # The safety concerns it holds are for whoever decides on the person now. Only a manager may
        # offer, and a manager sees every offer, so the provider is named, with its duty phone if Harbour
        # holds one.
        provider = pending.provider
        named: str
        if provider.organisation.duty_phone:
            named, none_held = format_html("{} ({})", provider.name, provider_duty_phone(provider)), ""
        else:
            named, none_held = provider.name, f" Harbour has no duty phone for them: {ADD_DUTY_PHONE}."
        how = format_html(
            "{} has not seen your note: phone them with it now, quoting case {}, or give it with the next "
            "offer if they reject the person.{}",
            named,
            referral.reference,
            none_held,
        )
    elif may_offer:
        how = "Copy your note for the provider, to give it with the next offer."
    elif (
        transition == "decline" and may_perform(user, "withdraw", referral) and can_proceed(referral.withdraw)
    ):
        how = (
            "To close the case with your note, withdraw the referral instead, copying your note into "
            "the withdrawal."
        )
    elif (
        transition == "reassess"
        and may_perform(user, "reassess", referral)
        and can_proceed(referral.reassess)
    ):
        # Still assessed: refused for an offer awaiting its answer, after which it can be changed.
        how = (
            "Copy your notes, to change the assessment with them once the offer is answered, has run out or "
            "is withdrawn."
        )
    elif transition == "correct" and may_perform(user, "correct", referral) and can_proceed(referral.correct):
        how = "Open “Correct details” again, which holds the details as they are now, and make your correction there."
    elif transition == "correct":
        how = format_html(
            "{} Copy what you need and phone it to {} on {}, quoting case {}.",
            services.CLOSED_NOT_CORRECTED,
            managers,
            managers_duty_line(),
            referral.reference,
        )
    elif (
        transition == "revoke_offer"
        and may_perform(user, "reallocate", referral)
        and can_proceed(referral.reallocate)
        and (placement := active_placement_for(referral)) is not None
    ):
        # The provider accepted first: the person is with it now, and only a reallocation moves them.
        how = (
            f"The person is now placed with {placement.provider.name}: if they must not stay there, "
            "reallocate them from the case page, with your note."
        )
    elif (
        in_sight and may_perform(user, "record_progress", referral) and can_proceed(referral.record_progress)
    ):
        how = "To pass your note on to the managers, copy it into a progress note on the case."
    else:
        how = format_html(
            "Harbour cannot pass your note on now: copy it and phone it to {} on {}, quoting case {}.",
            managers,
            managers_duty_line(),
            referral.reference,
        )
    # Nothing in the form can be recorded now, so what it lacks (a reason not chosen, say) goes unsaid.
    form.errors.clear()
    form.add_error(
        None, format_html("Your {} was not recorded. {} {}", NOT_RECORDED_WORDS[transition], why, how)
    )
    for name in TYPED_FIELDS:
        if name in form.fields:
            form.fields[name].widget.attrs["readonly"] = True
    context = {
        "referral": referral,
        # Out of sight, the case is its reference alone: who the person is is no longer the user's.
        "person": person_shown(request, referral, transition) if in_sight else "",
        "name": transition,
        "spec": TRANSITIONS[transition],
        "form": form,
        "refused": True,
        "sent": what_was_sent(transition, form),
        "out_of_sight": not in_sight,
    }
    return render(request, "referrals/case_action.html", context, status=TransitionNotAllowed.status_code)


def what_was_sent(
    transition: str, form: HarbourForm
) -> list[tuple[list[tuple[str, str]], forms.BoundField | None]]:
    """What a refused form sent, in the form's order (a correction's in its sections'): each typed
    field (``TYPED_FIELDS``, read-only, shown as it was typed) on its own, and the choices between them
    in words, as runs of (label, words)."""
    parts: list[tuple[list[tuple[str, str]], forms.BoundField | None]] = []
    for name, field in form.fields.items():
        if field.widget.attrs.get("readonly"):
            parts.append(([], form[name]))
        elif (words := chosen_in_words(transition, form, name)) is not None:
            if parts and parts[-1][1] is None:
                parts[-1][0].append((str(field.label), words))
            else:
                parts.append(([(str(field.label), words)], None))
    return parts


def chosen_in_words(transition: str, form: HarbourForm, name: str) -> str | None:
    """What was chosen in a field of a refused form as it reads: "Not eligible" for a reason for
    declining, "Migrant Help" for a care provider, "Vietnamese, English" for the languages the person
    speaks, a box ticked or not as "Yes" or "No"; None for a field typed into, hidden or left empty. A
    value that reads as nothing (a date that is no date, from a page altered) is given as it was sent."""
    field = form.fields[name]
    value = form[name].data
    if (
        name in TYPED_FIELDS
        or field.widget.is_hidden
        or (value in (None, "", []) and not isinstance(field, forms.BooleanField))
    ):
        return None
    labels = choice_labels(field)
    if isinstance(field, forms.BooleanField):
        return "Yes" if value else "No"
    if labels and isinstance(value, list):
        return ", ".join(str(labels.get(item, item)) for item in value)
    if labels and value in labels:
        return str(labels[value])
    if name == "provider" and str(value).isdecimal():
        return provider_names([int(value)]).get(int(value), str(value))
    try:
        return input_in_words(transition, name, value, {})
    except ValueError:  # a date that is no date
        return str(value)


def choice_labels(field: forms.Field) -> dict[Any, Any]:
    """A choice field's labels by value, its groups' included; empty for a field of no choices."""
    labels: dict[Any, Any] = {}
    for value, label in getattr(field, "choices", ()):
        if isinstance(label, list | tuple):
            labels.update((str(inner), inner_label) for inner, inner_label in label)
        else:
            labels[str(value)] = label
    return labels


def paginate(request: HttpRequest, rows: QuerySet[Any]) -> Page:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


STATE_NOW = {
    ReferralState.RECEIVED: "This referral has not been assessed yet.",
    ReferralState.ASSESSED: "This referral has already been assessed and is waiting for a placement.",
    ReferralState.PLACED: "This person is placed with a care provider.",
    ReferralState.MISSING: "This person has already been reported missing.",
    **{state: now for state, (now, _closed) in services.CLOSED_WORDS.items()},
}


def apply_domain_error(form: HarbourForm, error: HarbourError, referral: Referral | None = None) -> int:
    """Show a domain error on the form that caused it; answer the HTTP status for the page.

    An error about one field goes on that field. A conflict (the case or offer changed since the page
    was loaded) says what the case is now, so a second tab or a late answer explains itself.
    """
    if error.field and error.field in form.fields:
        form.add_error(error.field, error.message)
    elif type(error) is TransitionNotAllowed and referral is not None:
        now = STATE_NOW.get(ReferralState(referral.state), "")
        form.add_error(None, f"{now} It changed since you opened the page, so nothing was recorded.".strip())
    else:
        form.add_error(None, error.message)
    return error.status_code


# ---------------------------------------------------------------------------------------- intake


def _draft_data(post: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in REFERRAL_FIELDS:
        if name in MULTI_VALUE_FIELDS:
            data[name] = [value for value in post.getlist(name) if value]  # not the lists left at None
        elif name in post:
            data[name] = post.get(name)
    return data


def _draft_id(request: HttpRequest) -> int | None:
    raw = request.POST.get("draft") or request.GET.get("draft")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _loaded_version(request: HttpRequest) -> int | None:
    """The version of the draft the posted form was loaded from; None if it does not say (a page older
    than versions), which matches none."""
    raw = request.POST.get("draft_version", "")
    return int(raw) if DRAFT_VERSION_SHAPE.fullmatch(raw) else None


def _when_saved(draft: ReferralDraft) -> str:
    """When the draft was last saved: the time, and the day too if not today."""
    today = timezone.localdate() == timezone.localtime(draft.updated_at).date()
    return local_time(draft.updated_at, "%H:%M" if today else "%H:%M on %-d %b %Y")


def _kept_apart_from(
    request: HttpRequest, user: User, newer: ReferralDraft, *, submitting: bool
) -> HttpResponse:
    """The form was loaded from an older version of ``newer``, saved again since (in another tab, say):
    what was sent is kept as a new draft, ``newer`` is left as it is, and the user is shown both, which
    is newer, and the fields they differ in. Nothing is submitted."""
    data = _draft_data(request.POST)
    kept = keep_as_new_draft(
        owner=user, data=data, why=f"apart from {draft_label(newer.pk)}, changed since the form was loaded"
    )
    intake_address = reverse("referrals:intake")
    differ = set(fields_that_differ(data, newer.data))
    differ_labels = [str(field.label) for name, field in ReferralForm.base_fields.items() if name in differ]
    when = _when_saved(newer)
    if submitting:
        outcome, sent, then = (
            "Not submitted",
            "sent",
            "Compare them, submit the one you want and discard the other.",
        )
    else:
        outcome, sent, then = "Saved as a new draft", "saved", "Keep the one you want and discard the other."
    message = format_html(
        "{}: the draft you opened was changed in another tab or on another device at {}, after you opened "
        'it. Both versions are kept: what you {} is <a href="{}">this draft</a>, and the other version, saved '
        'at {} and newer than the one you started from, is <a href="{}">the other draft</a>. {} {}',
        outcome,
        when,
        sent,
        f"{intake_address}?draft={kept.pk}",
        when,
        f"{intake_address}?draft={newer.pk}",
        f"They differ in: {'; '.join(differ_labels)}." if differ else "They hold the same values.",
        then,
    )
    messages.warning(request, message)
    return form_done(redirect(f"{intake_address}?draft={kept.pk}"))


def _live_draft_or_none(user: User, draft_id: int | None) -> ReferralDraft | None:
    if draft_id is None:
        return None
    try:
        return get_live_draft(user, draft_id)
    except ReferralDraft.DoesNotExist:
        return None


def _intake_page(
    request: HttpRequest,
    form: ReferralForm,
    draft: ReferralDraft | None,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {"form": form, "draft": draft, **extra}
    return render(request, "referrals/intake.html", context, status=status)


def _keep_typed_work(request: HttpRequest) -> HttpResponse:
    """The session ended while the form was open: save what was typed as its owner's draft (SPEC §3),
    then sign in. Only a first responder's signed form keeps anything, and as a new draft: the draft
    the form was opened from, if any, is left as it was."""
    owner = signed_owner(request) if request.method == "POST" else None
    if owner is None or not may_submit(owner):
        return _to_sign_in_unkept(request)
    draft = keep_as_new_draft(
        owner=owner,
        data=_draft_data(request.POST),
        why="from a lapsed session",
        unless_same_as=_live_draft_or_none(owner, _draft_id(request)),
    )
    messages.info(
        request,
        f"{signed_out_words(why_signed_out(request))} What you typed is saved as a draft: sign in to carry on.",
    )
    return redirect_to_login(f"{reverse('referrals:intake')}?draft={draft.pk}")


def draft_gone(request: HttpRequest) -> HttpResponse:
    """A link to a draft that is not one of the user's live drafts (the back button after submitting,
    a stale tab): the drafts list says why, in the same words whoever's draft the number was."""
    messages.info(request, "That draft is no longer kept: it was submitted, discarded or expired.")
    return redirect("referrals:drafts")


@sent_once()
def intake(request: HttpRequest) -> HttpResponse:
    """The referral form: save a draft, check for likely duplicates, then submit."""
    if not request.user.is_authenticated:
        return _keep_typed_work(request)
    user = _user(request)
    if not may_submit(user):
        raise PermissionDenied("Only first responders can refer.")
    draft_id = _draft_id(request)
    draft: ReferralDraft | None = None
    if draft_id is not None:
        try:
            draft = get_live_draft(user, draft_id)
        except ReferralDraft.DoesNotExist:
            if request.method != "POST":
                return draft_gone(request)
            # The draft expired while the form was open: keep what was typed, as a new draft if saved.
            draft_id = None
    form_key = form_key_of(request)
    if draft is None and request.method != "POST":
        # The form shown again by Back, without the draft's number, is still the draft saved from it
        # (``sent_once`` gives a key sent long ago way to a new one). Not for a sending: another tab
        # with the same address may be another person, and their form never says it is that draft.
        draft = draft_saved_from(user, shown_form_key(request))

    if request.method != "POST":
        if draft is not None:
            record_draft_reads(actor=user, drafts=[draft], what="intake form", request=request)
        return _intake_page(request, ReferralForm(initial=draft.data if draft else None), draft)

    action = request.POST.get("action", "submit")
    if action == "save_draft":
        try:
            draft = save_draft(
                owner=user,
                data=_draft_data(request.POST),
                draft_id=draft.pk if draft else None,
                version=_loaded_version(request),
                form_key=form_key,
            )
        except DraftChangedElsewhere as changed:
            return _kept_apart_from(request, user, changed.draft, submitting=False)
        messages.success(
            request,
            f"Draft saved. It is kept until {timezone.localtime(draft.expires_at):%-d %B %Y}.",
        )
        # Back on the form, the draft's number in the address: going back or reloading keeps saving
        # this draft instead of starting another.
        return form_done(redirect(f"{reverse('referrals:intake')}?draft={draft.pk}"))

    if draft is not None and draft.version != _loaded_version(request):
        # Submitted from an older version of the draft: neither it nor the newer one is lost.
        return _kept_apart_from(request, user, draft, submitting=True)
    form = ReferralForm(request.POST)
    if not form.is_valid():
        return _intake_page(request, form, draft, status=400)
    fields = form.referral_fields()
    if action != "submit_anyway":
        duplicates = list(
            likely_duplicates(
                user,
                given_name=fields["given_name"],
                family_name=fields["family_name"],
                date_of_birth=fields["date_of_birth"],
                nationality=fields["nationality"],
            ).only("id", "reference", "state", "submitted_at")[:LIKELY_DUPLICATES_SHOWN]
        )
        if duplicates:
            return _intake_page(
                request,
                form,
                draft,
                duplicates=duplicates,
                duplicate_window_days=settings.DUPLICATE_WINDOW_DAYS,
            )
    try:
        referral = services.submit_referral(actor=user, fields=fields)
    except HarbourError as error:
        status = apply_domain_error(form, error)
        return _intake_page(request, form, draft, status=status)
    messages.success(request, f"Referral {referral.reference} submitted. Managers have been told.")
    if referral.emergency:
        # Its placement clock starts only once it is assessed: a bed tonight is asked for by phone.
        [assessment] = referral.open_deadline_list  # type: ignore[attr-defined]  # set by submit_referral
        messages.warning(request, emergency_submitted_words(referral.reference, assessment.due_at))
    if draft is not None and not discard_draft(
        owner=user, draft_id=draft.pk, version=draft.version, submitted_as=referral
    ):
        # Saved again elsewhere while this was being submitted: the newer version is kept.
        messages.warning(
            request,
            format_html(
                "The draft it was submitted from was changed in another tab or on another device meanwhile, "
                "so it is kept: "
                '<a href="{}?draft={}">open the changed draft</a>, then submit or discard it.',
                reverse("referrals:intake"),
                draft.pk,
            ),
        )
    # The same person sent again (after Back, say) meets the duplicates check.
    return form_done(redirect("referrals:case", pk=referral.pk))


@login_required
def drafts(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_submit(user):
        raise PermissionDenied("Only first responders have drafts.")
    own_drafts = list(live_drafts(user))
    record_draft_reads(actor=user, drafts=own_drafts, what="drafts list", request=request)
    return render(request, "referrals/drafts.html", {"drafts": own_drafts})


@login_required
@require_http_methods(["GET", "POST"])
def draft_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks first (GET), then discards (POST): a draft is work that cannot be got back."""
    user = _user(request)
    if not may_submit(user):
        raise PermissionDenied("Only first responders have drafts.")
    try:
        draft = get_live_draft(user, pk)
    except ReferralDraft.DoesNotExist:
        return draft_gone(request)
    if request.method != "POST":
        record_draft_reads(actor=user, drafts=[draft], what="discard page", request=request)
        return render(request, "referrals/draft_discard.html", {"draft": draft})
    if discard_draft(owner=user, draft_id=draft.pk, version=_loaded_version(request)):
        messages.success(request, "Draft discarded.")
    else:
        messages.warning(
            request,
            "The draft was not discarded: it was changed in another tab or on another device at "
            f"{_when_saved(draft)}, after you opened the page to discard it. Open it to see what it holds now.",
        )
    return redirect("referrals:drafts")


DRAFT_KEPT_AFTER_NOTIFICATION = (
    "The draft of the referral was changed in another tab or on another device after you opened it, so it "
    "is kept: it is on your drafts list, to discard if you no longer need it."
)


def _notification_from_referral(
    request: HttpRequest, form: AnonymousNotificationForm, *, source: str, kept: str
) -> HttpResponse:
    """The notification form started from the referral's fields it shares, taken from ``source``. The
    confirmation that the person is an adult is not among them: the responder's own, ticked here."""
    messages.info(
        request,
        f"Gender, nationality, types of exploitation and region are taken from {source}; {kept}. Check them, "
        f"tick “{form.fields['adult'].label}” if it is so, and send the notification.",
    )
    return render(request, "referrals/anonymous_notification.html", {"form": form})


@login_required_keeping_typed_work(AnonymousNotificationForm)
@sent_once()
def anonymous_notification(request: HttpRequest) -> HttpResponse:
    """Duty to notify: an adult who does not consent, recorded without any personal details."""
    user = _user(request)
    if not may_submit(user):
        raise PermissionDenied("Only first responders can make anonymous notifications.")
    # A draft of the referral the person did not consent to: deleted once the notification is sent.
    draft = _live_draft_or_none(user, _draft_id(request))
    if request.POST.get("action") == "from_referral":
        # The referral form refused for want of consent, sent here by its button: this form starts with
        # the fields the two share, the draft's number and the version the form was loaded from among
        # them, and nothing else posted is read, kept or shown.
        form = AnonymousNotificationForm()
        form.initial = initial_from(form, typed_values(form, request.POST))
        kept = (
            "the draft saved from it is deleted when you send the notification"
            if draft
            else "nothing else from it is kept"
        )
        return _notification_from_referral(request, form, source="the referral form", kept=kept)
    if request.method != "POST" and draft is not None:
        # The referral form's link, with a draft open: as from its button, with what the draft holds.
        record_draft_reads(actor=user, drafts=[draft], what="anonymous notification form", request=request)
        shared = {
            name: value for name, value in draft.data.items() if name in AnonymousNotificationForm.base_fields
        }
        form = AnonymousNotificationForm(
            initial={**shared, "draft": draft.pk, "draft_version": draft.version}
        )
        kept = "the draft is deleted when you send the notification"
        return _notification_from_referral(request, form, source="your draft", kept=kept)
    form = AnonymousNotificationForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                notification = services.submit_anonymous_notification(
                    actor=user, **form.notification_fields()
                )
            except HarbourError as error:
                status = apply_domain_error(form, error)
            else:
                # Its number is the officer's proof that the duty to notify was done, to note down.
                recorded = local_time(notification.submitted_at, "%H:%M on %-d %B %Y")
                messages.success(
                    request,
                    f"Anonymous notification number {notification.pk} recorded at {recorded}. Thank you.",
                )
                # Only the version of the draft the referral form was loaded from goes with it.
                if draft is not None and not discard_draft(
                    owner=user, draft_id=draft.pk, version=_loaded_version(request)
                ):
                    messages.warning(request, DRAFT_KEPT_AFTER_NOTIFICATION)
                return form_done(redirect("referrals:anonymous_notifications"), ask_before_repeating=True)
        else:
            status = 400
        return render(request, "referrals/anonymous_notification.html", {"form": form}, status=status)
    show_unsent_form(request, form)
    return render(request, "referrals/anonymous_notification.html", {"form": form})


@login_required
def anonymous_notifications(request: HttpRequest) -> HttpResponse:
    """Anonymous notifications, newest first, each by its number, read only: a first responder's
    organisation's, and every one for the managers, who look up the number a responder quotes."""
    user = _user(request)
    if not (may_submit(user) or user.is_manager):
        raise PermissionDenied("Only first responders and managers list anonymous notifications.")
    notifications = anonymous_notifications_visible_to(user).select_related("organisation")
    number = request.GET.get("number", "").strip()
    if number:
        # Anything but a number an id can hold (18 digits and fewer) is no notification's.
        found = number.isdecimal() and len(number) <= 18
        notifications = notifications.filter(pk=int(number)) if found else notifications.none()
    page = paginate(request, notifications)
    nationalities = nationality_names()
    exploitation = dict(ExploitationType.choices)
    rows = [
        {
            "number": notification.pk,
            "recorded": notification.submitted_at,
            "gender": notification.get_gender_display(),
            "nationality": nationalities.get(notification.nationality, notification.nationality),
            "exploitation": ", ".join(
                exploitation.get(code, code) for code in notification.exploitation_types
            ),
            "region": notification.get_region_display(),
            "organisation": notification.organisation.name,
        }
        for notification in page
    ]
    context = {"page": page, "rows": rows, "number": number, "every": user.is_manager}
    return render(request, "referrals/anonymous_notifications.html", context)


# ------------------------------------------------------------------------------------ case lists


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    """A responder's organisation's cases, or every case for a manager; found by reference, filtered by
    state (and region), or the overdue ones only, longest overdue first. A case overdue shows since when;
    a missing person's, since last seen. The missing are also those reallocated while missing and not
    found since."""
    user = _user(request)
    if not (user.is_first_responder or user.is_manager):
        raise PermissionDenied("Care providers see their caseload and offers.")
    filters = CaseFilterForm(request.GET or None, with_region=user.is_manager)
    cases = case_list_of(user, now=timezone.now())
    order: tuple[str, ...] = ("-submitted_at", "-id")
    if filters.is_valid():
        chosen = filters.cleaned_data
        if chosen.get("reference"):
            # As Harbour writes it: an exact match uses the unique index.
            cases = cases.filter(reference=reference_as_typed(chosen["reference"]))
        if chosen.get("state"):
            cases = cases.filter(in_state(chosen["state"]))
        if chosen.get("region"):
            cases = cases.filter(region=chosen["region"])
        if chosen.get("overdue"):
            cases = cases.filter(Q(overdue_since__isnull=False))
            order = ("overdue_since", "id")  # longest first
    elif filters.is_bound:
        cases = cases.none()  # a filter with an error lists nothing rather than everything
    cases = cases.order_by(*order)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/case_list.html",
        {"page": paginate(request, cases), "filters": filters, "query": query.urlencode()},
        status=400 if filters.errors else 200,
    )


def _manager_only(user: User) -> None:
    if not user.is_manager:
        raise PermissionDenied("Only managers work the queues.")


@login_required
def triage(request: HttpRequest) -> HttpResponse:
    """Referrals awaiting assessment, oldest first, with the assessment due time."""
    user = _user(request)
    _manager_only(user)
    queue = triage_queue(user).select_related("organisation").annotate(due=open_clock_due(Clock.ASSESSMENT))
    return render(request, "referrals/triage.html", {"page": paginate(request, queue)})


@login_required
def assessed_queue(request: HttpRequest) -> HttpResponse:
    """Assessed, not yet placed: emergencies first, then the placement due soonest, each with what
    became of its latest offer."""
    user = _user(request)
    _manager_only(user)
    page = paginate(request, assessed_not_placed(user))
    for case in page.object_list:
        case.last_offer_words = last_offer_words(next(iter(case.last_offer_list), None))  # type: ignore[attr-defined]
    return render(request, "referrals/assessed_queue.html", {"page": page})


# -------------------------------------------------------------------------------------- case page


@dataclass(frozen=True)
class TransitionSpec:
    """One action on the case page: its form and what to say when it is done."""

    # What the action does, as a verb ("Record recovery", not "Recovered"): its page's heading and its
    # link on the case page, shown while the case is still in the state the action leaves.
    title: str
    button: str
    form_class: type[HarbourForm]
    done: str
    warning: bool = False
    # The usual next step: its form starts open on the case page.
    primary: bool = False
    # What to say when done instead of ``done`` if the person was missing: nobody can be offered a
    # placement until they are found.
    done_while_missing: str = ""
    # What to know before doing it, on the action's own page: what it cannot undo.
    notice: str = ""


TRANSITIONS: dict[str, TransitionSpec] = {
    "assess": TransitionSpec(
        "Assess",
        "Assess",
        AssessForm,
        "Assessed.",
        primary=True,
    ),
    "decline": TransitionSpec(
        "Decline the referral",
        "Decline referral",
        DeclineForm,
        "Declined.",
        warning=True,
    ),
    "withdraw": TransitionSpec(
        "Withdraw the referral",
        "Withdraw referral",
        WithdrawForm,
        "Withdrawn.",
        warning=True,
    ),
    "offer": TransitionSpec(
        "Offer a placement",
        "Make the offer",
        OfferForm,
        "Placement offered. The provider has been told.",
        primary=True,
    ),
    "reassess": TransitionSpec(
        "Change assessment",
        "Save the new assessment",
        ReassessForm,
        "Assessment changed.",
        notice="For a person whose needs changed while they wait for a placement: a bed now, or outreach "
        "support only, or a higher risk. The case stays assessed and its placement deadline does not "
        "change. Providers are suggested, and offers checked, for the new route.",
    ),
    "accept": TransitionSpec(
        "Accept the offer",
        "Accept",
        AcceptForm,
        "Offer accepted: the person is placed with you.",
        primary=True,
    ),
    "reject": TransitionSpec(
        "Reject the offer",
        "Reject",
        RejectForm,
        "Offer rejected. Managers will offer the person elsewhere.",
        warning=True,
    ),
    "revoke_offer": TransitionSpec(
        "Withdraw the offer",
        "Withdraw offer",
        RevokeOfferForm,
        "Offer withdrawn. The provider has been told; you can make a new offer now.",
        warning=True,
        notice="The provider is told the offer is withdrawn, and can no longer open the case. The case stays "
        "assessed and its placement deadline does not change.",
    ),
    "record_progress": TransitionSpec(
        "Record progress",
        "Save progress note",
        ProgressForm,
        "Progress note saved.",
        primary=True,
    ),
    "report_missing": TransitionSpec(
        "Report missing",
        "Report missing",
        MissingForm,
        "Reported missing. Managers and the referring organisation have been alerted.",
        warning=True,
    ),
    "found": TransitionSpec(
        "Mark as found",
        "Mark as found",
        FoundForm,
        "Marked as found.",
        primary=True,
    ),
    "reallocate": TransitionSpec(
        "Reallocate",
        "Reallocate",
        ReallocateForm,
        "Reallocated: the placement has ended and managers will offer the person elsewhere.",
        warning=True,
        done_while_missing="Reallocated: the placement has ended. The person is still missing: managers "
        "will offer them a placement once they are found.",
        notice=lazy(
            lambda: format_html(
                "Reallocating ends the placement: the care provider can then no longer open this case or "
                "record anything on it. If the person is missing and comes back to the provider, the provider "
                "phones the managers on {}, who record them found.",
                managers_duty_line(),
            ),
            SafeString,
        )(),
    ),
    "recover": TransitionSpec(
        "Record recovery",
        "Record recovery",
        RecoverForm,
        "Recovery recorded.",
    ),
    "exit": TransitionSpec(
        "Record an exit from support",
        "Record exit",
        ExitForm,
        "Exit recorded.",
        warning=True,
    ),
    "correct": TransitionSpec(
        "Correct details",
        "Save the correction",
        CorrectForm,
        "Details corrected.",
        notice="Change only what is wrong: the case's state does not change. The history records which "
        "details were corrected and why, not what they were. The provider offered the person or "
        "supporting them is told that the details changed.",
    ),
}


def available_transitions(user: User, referral: Referral, pending_offer: PlacementOffer | None) -> list[str]:
    """The actions this user may take on this case in its current state."""
    provider = user.provider
    open_now = [name for name in TRANSITIONS if can_proceed(getattr(referral, name))]
    if "found" in open_now:
        # Reallocated while missing: found first, then a new placement (``services.check_not_missing``).
        open_now = [name for name in open_now if name != "offer"]
    names = []
    for name in open_now:
        if name in ("accept", "reject"):
            if provider is None or pending_offer is None or pending_offer.provider_id != provider.pk:
                continue
            if not services.offer_awaits_answer(pending_offer):
                continue  # past its answer time: expired, whatever the answer
        elif name == "revoke_offer":
            if not services.offer_awaits_answer(pending_offer):
                continue  # none, or past its answer time: a new offer closes it
        elif services.pending_offer_refusal(name, pending_offer):
            continue
        if may_perform(user, name, referral):
            names.append(name)
    return names


def not_open_words(
    user: User, referral: Referral, transition: str, pending_offer: PlacementOffer | None
) -> str:
    """Why an action the user asked for is not open on the case now, in a sentence."""
    if user.is_manager and (waits := services.pending_offer_refusal(transition, pending_offer)):
        return waits.message
    # What became of the offer, whatever the case's state now.
    if (
        transition == "revoke_offer"
        and user.is_manager
        and (gone := services.revoke_refusal(referral, pending_offer))
    ):
        return gone.message
    if transition == "offer" and user.is_manager and referral.still_missing():
        return services.STILL_MISSING_MESSAGE
    if transition in ("accept", "reject"):
        # The offer was made to this provider, and is answered or past its answer time: say which.
        unanswerable = services.answer_refusal(referral, pending_offer)
        if unanswerable is not None and may_perform(user, transition, referral):
            return unanswerable.message
        return "This case has no offer waiting for you."
    refusal = services.transition_refusal(user, transition, referral)
    if isinstance(refusal, PersonStillMissing | CaseClosed):
        return refusal.message
    if isinstance(refusal, TransitionNotAllowed):
        # Usually the action was already done (Back, a second tab): say what the case is now, as a
        # refused POST does.
        now = STATE_NOW.get(ReferralState(referral.state), refusal.message)
        if transition == "correct":
            return f"{now} {services.CLOSED_NOT_CORRECTED}"
        if refusal.message == services.REASSESS_ONCE_REALLOCATED:
            return f"{now} {refusal.message}"
        return now
    return refusal.message if refusal is not None else f"{TRANSITIONS[transition].title} is not open now."


def _provider_choices(suggestions: list[Any]) -> list[tuple[int, str]]:
    choices = []
    for suggestion in suggestions:
        label = suggestion.provider.name
        if not suggestion.suitable:
            label += " (cannot take this person)"
        elif suggestion.beds_all_offered:
            label += " (every free bed already offered)"
        choices.append((suggestion.provider.pk, label))
    return choices


# What the history says of an offer's note that the case page shows in full above it.
NOTE_SHOWN_ABOVE = "shown above, under Note from the managers"


def history_rows(
    user: User, referral: Referral, offers: list[PlacementOffer], *, note_shown: str = ""
) -> list[dict[str, Any]]:
    """The transition log as the user may see it (a care provider from its own offer on, as in the
    API), with the inputs (notes) ``may_see_transition_input`` allows. The offer's note the page shows
    above (``note_shown``) is not repeated: a long note would take the page twice over."""
    logs = case_history_visible_to(user, referral, offers)
    identity = may_see_identity(user, referral)
    states = dict(ReferralState.choices)
    provider_names = {offer.provider_id: offer.provider.name for offer in offers}
    rows = []
    for log in logs:
        acted = log["actor_id"] is not None
        show_input = may_see_transition_input(
            user,
            log["transition"],
            log["actor__organisation_id"],
            log["actor__organisation__kind"],
            from_current_offer=log.get("from_current_offer", False),
        )
        given: dict[str, Any] = log["input"] or {}  # type: ignore[assignment]  # decrypted JSON
        if not acted:
            by = "Harbour"
        elif not may_see_actor(user, log["actor__organisation__kind"]):
            by = "The referring organisation"
        elif log["actor__organisation_id"] is None:
            by = log["actor__username"]
        else:
            by = f"{log['actor__username']} ({log['actor__organisation__name']})"
        to_state = states.get(log["to_state"], log["to_state"])
        action = transition_in_words(log["transition"])
        if log["transition"] == "correct" and show_input:
            # "Details corrected (age assessment): date of birth, age in doubt": names, never values.
            action = correction_in_words(given, log["at"])
            # Its note may say what a detail was ("Smyth, not Smith"): for whoever sees who the person is,
            # and a provider reads the referrer's reason and fields, not its words.
            note_read = may_read_correction_note(
                user,
                log["actor__organisation_id"],
                log["actor__organisation__kind"],
                from_current_offer=log.get("from_current_offer", False),
                identity=identity,
            )
            given = {"note": given.get("note")} if note_read else {}
        elif log["transition"] == "found" and "check_in_due" in given:
            # When the check-in is due says the day chosen on marking them found, if one was: said once.
            given = {key: value for key, value in given.items() if key != "next_check_in"}
        elif log["transition"] == "revoke_offer" and show_input:
            # "Offer to Migrant Help withdrawn: no answer from the provider", then the note.
            action = revocation_in_words(given, provider_names)
            given = {"note": given.get("note")}
        rows.append(
            {
                "at": log["at"],
                "action": action,
                "state": f"{states.get(log['from_state'], log['from_state'])} → {to_state}"
                if log["from_state"] not in ("", log["to_state"])
                else to_state,
                "by": by,
                "input": [
                    (
                        input_label(key),
                        NOTE_SHOWN_ABOVE
                        if note_shown
                        and log["transition"] == "offer"
                        and key == "note"
                        and value == note_shown
                        else input_in_words(log["transition"], key, value, provider_names),
                    )
                    for key, value in sorted(given.items())
                    if show_input and value not in (None, "", False) and key != "offer"
                ],
            }
        )
    return rows


def person_details(user: User, referral: Referral) -> list[tuple[str, str]]:
    """The person's details this user may see (a provider sees only what it needs to support them)."""
    nationalities = nationality_names()
    languages = language_names()
    exploitation = dict(ExploitationType.choices)
    yes_no = {True: "Yes", False: "No"}
    identity = may_see_identity(user, referral)
    date_of_birth: datetime.date | None = referral.date_of_birth  # type: ignore[assignment]  # decrypted
    rows: list[tuple[str, str]] = []
    if referral.anonymised_at is not None:
        rows.append(("Name", "Removed under the retention policy"))
    elif identity:
        rows.append(("Name", f"{referral.given_name} {referral.family_name}"))
    else:
        rows.append(("Name", "Shown once you accept the placement"))
    if may_see_full_account(user) and referral.anonymised_at is None:
        rows.append(("Other names", referral.aliases or "None given"))
    if identity and referral.anonymised_at is None:
        rows.append(("Date of birth", date_of_birth.strftime("%-d %B %Y") if date_of_birth else "Not known"))
        if turns_18_on := referral.turns_18_on:
            turned = turns_18_on <= timezone.localdate()
            rows.append(("Turned 18 on" if turned else "Turns 18 on", turns_18_on.strftime("%-d %B %Y")))
    elif date_of_birth:
        rows.append(("Age", str(services.age_on(date_of_birth, timezone.localdate()))))
    rows += [
        ("Age estimate", str(referral.age_estimate) if referral.age_estimate is not None else "Not given"),
        ("Child", yes_no[referral.is_child]),
        ("Age in doubt", yes_no[referral.age_in_doubt]),
        ("Gender", referral.get_gender_display()),
        ("Nationality", nationalities.get(referral.nationality, referral.nationality)),
        (
            "Second nationality",
            nationalities.get(referral.second_nationality, referral.second_nationality) or "None",
        ),
        ("Languages", ", ".join(languages.get(code, code) for code in referral.languages)),
        ("Interpreter needed", yes_no[referral.interpreter_needed]),
        ("Exploitation", ", ".join(exploitation.get(code, code) for code in referral.exploitation_types)),
        ("Where exploited", referral.get_exploitation_location_display()),
        ("Region", referral.get_region_display()),
        ("Needs accommodation", yes_no[referral.needs_accommodation]),
        ("Emergency", yes_no[referral.emergency]),
        ("Needs medical care", yes_no[referral.needs_medical]),
        ("Has dependants", yes_no[referral.has_dependants]),
        ("Safe to contact", yes_no[referral.safe_to_contact]),
    ]
    if identity and referral.anonymised_at is None and (referral.is_child or referral.local_authority):
        # Whom in children's services to coordinate a child's placement with. A child referred before
        # Harbour asked has neither.
        rows += [
            ("Local authority", referral.local_authority or "Not recorded"),
            ("Children's services contact", referral.local_authority_contact or "None given"),
        ]
    if identity and referral.safe_to_contact and referral.contact_phone:
        rows.append(("Contact phone", referral.contact_phone))
    if may_see_full_account(user):
        rows += [
            ("Responder reference", referral.responder_reference or "None"),
            ("Crime reference", referral.crime_reference or "None"),
        ]
    return rows


def who_the_person_is(user: User, referral: Referral) -> str:
    """ "Merhawit Tran, aged 34": the person's name and age, beside the case reference wherever the user acts
    on them, so that no one reports the wrong person missing; empty if the user may not see who they are
    (``may_see_identity``) or the name was removed under the retention policy. For pages only, never a
    message (it waits in a cookie or the session, in clear), a notification or a log."""
    if referral.anonymised_at is not None or not may_see_identity(user, referral):
        return ""
    name = f"{referral.given_name} {referral.family_name}"
    age = age_words(referral, timezone.localdate())
    if age == "Not known":
        return name
    if age.startswith("Child"):
        return f"{name}, a child{age.removeprefix('Child')}"
    return f"{name}, aged {age[0].lower()}{age[1:]}"  # "aged 34", "aged about 30 (in doubt)"


def person_shown(request: HttpRequest, referral: Referral, transition: str) -> str:
    """``who_the_person_is`` for an action's page (its form, or the form shown again refused): when the
    page names the person, a read of their details in the audit trail, as the case page's (SPEC §10). The
    correction's form shows every detail it corrects besides."""
    user = _user(request)
    person = who_the_person_is(user, referral)
    if person:
        record_read(actor=user, referral=referral, what=f"{transition} page", request=request)
    return person


@login_required
@explains_an_ended_offer
def case(request: HttpRequest, pk: int) -> HttpResponse:
    """The case page: the usual next step's form in place, every other action a link to a page of its own."""
    user = _user(request)
    referral = visible_referral_or_404(user, pk, get_case)
    offers, placement = case_offers_and_placement(referral)
    referral.active_placement_list = [placement] if placement else []  # type: ignore[attr-defined]
    pending_offer = next((offer for offer in offers if offer.state == OfferState.PENDING), None)
    actions = available_transitions(user, referral, pending_offer)
    provider = user.provider
    if provider is not None:
        # A provider hears only of its own offer and placement, not of other providers'.
        pending_offer = pending_offer if pending_offer and pending_offer.provider_id == provider.pk else None
        placement = placement if placement and placement.provider_id == provider.pk else None
    provider_misfit = provider_misfit_words(user, referral, pending_offer, placement)
    # An offer the provider can no longer accept (a correction made the person one it does not take):
    # accepting would be refused, so rejecting it as unsuitable is the main action instead.
    cannot_accept = (
        provider is not None and pending_offer is not None and bool(provider_misfits(provider, referral))
    )
    if cannot_accept:
        actions = [name for name in actions if name != "accept"]
    primary = [name for name in actions if TRANSITIONS[name].primary or (cannot_accept and name == "reject")]
    suggestions = suggested_providers(referral) if "offer" in primary else []
    # Told before pressing Accept, which would fail, with the rejection a click away.
    no_free_bed = (
        no_free_bed_words(provider, referral) if provider is not None and "accept" in actions else ""
    )
    record_read(actor=user, referral=referral, what="case page", request=request)
    # A provider whose placement has ended sees nothing of the case's clocks after it left.
    deadlines = (
        [deadline for deadline in case_open_deadlines(referral) if may_see_clock(user, deadline.clock)]
        if provider is None or pending_offer or placement
        else []
    )
    review_waiting = recovery_review_waits(deadlines)
    offer_note = offer_note_for(user, pending_offer, placement, offers)
    # Managers decide on duplicates, whoever referred the person.
    duplicates = (
        list(possible_duplicates_of(user, referral).only("id", "reference", "state", "submitted_at")[:10])
        if user.is_manager and referral.state in OPEN_STATES and referral.has_namesake  # type: ignore[attr-defined]
        else []
    )
    # The later referral is the one closed as the duplicate, if it still can be: on its page, or on this
    # one's when every later one is past closing (placed, say), the step that closes this case in its
    # state, declined or withdrawn (SPEC §4).
    later_closable = any(
        case.submitted_at > referral.submitted_at and case.state in CLOSABLE_AS_DUPLICATE
        for case in duplicates
    )
    duplicate_closing = (
        next((name for name in ("decline", "withdraw") if name in actions), "")
        if duplicates and not later_closable
        else ""
    )
    context = {
        "referral": referral,
        "person": who_the_person_is(user, referral),
        "details": person_details(user, referral),
        "now_18": coming_of_age_words(referral, timezone.localdate()) == NOW_18,
        "consent_missing": consent_missing_words(user, referral),
        "provider_misfit": provider_misfit,
        "route_misfit": route_misfit_words(user, referral, pending_offer),
        "may_see_full_account": may_see_full_account(user),
        "deadlines": deadlines,
        # Reallocated while missing: the state says assessed, but the person is not found yet.
        "missing_while_assessed": referral.state == ReferralState.ASSESSED
        and any(deadline.clock == Clock.MISSING for deadline in deadlines),
        "history": history_rows(user, referral, offers, note_shown=offer_note),
        "pending_offer": pending_offer,
        "offer_ran_out": pending_offer is not None and not services.offer_awaits_answer(pending_offer),
        # Beside the offer it withdraws, rather than among the other actions.
        "revocable": TRANSITIONS["revoke_offer"] if "revoke_offer" in actions else None,
        "placement": placement,
        "offer_note": offer_note,
        "offers": offers if user.is_manager else [],
        "duplicates": duplicates,
        "duplicate_closing": duplicate_closing,
        "suggestions": suggestions,
        "no_free_bed": no_free_bed,
        "forms": [
            (
                name,
                TRANSITIONS[name],
                _action_form(
                    name,
                    suggestions=suggestions,
                    recovery_review_waiting=review_waiting,
                    initial={"reason": RejectReason.UNSUITABLE} if name == "reject" else None,
                    # Whether the person has a placement to go back to, and a check-in to choose.
                    referral=referral if name == "found" else None,
                    on_case_page=True,
                ),
            )
            for name in primary
        ],
        "links": [(name, TRANSITIONS[name]) for name in actions if name not in (*primary, "revoke_offer")],
    }
    return render(request, "referrals/case.html", context)


def route_misfit_words(user: User, referral: Referral, pending_offer: PlacementOffer | None) -> str:
    """For a manager, while a new assessment could follow: that the person's need of a safe place to stay,
    corrected since the assessment, no longer matches its route. Empty otherwise."""
    if not (user.is_manager and referral.state == ReferralState.ASSESSED and referral.route):
        return ""
    if (referral.route == Route.ACCOMMODATION) == referral.needs_accommodation:
        return ""
    need = "needs" if referral.needs_accommodation else "does not need"
    then = (
        " once the offer is answered, has run out or is withdrawn"
        if services.offer_awaits_answer(pending_offer)
        else ""
    )
    return (
        f"The person {need} a safe place to stay, and the route is {referral.get_route_display().lower()}: "
        f"change the assessment{then} if the route should change."
    )


def consent_missing_words(user: User, referral: Referral) -> str:
    """For an open case of an adult without consent (a child referred without it whom an age assessment
    found an adult), that their support continues only with their consent, and what the user can do
    about it; empty otherwise."""
    if referral.state not in OPEN_STATES or referral.is_child or referral.consent:
        return ""
    said = (
        "No consent: this person was referred as a child, without their consent, and is now known to be an "
        "adult. Their support continues only with their own consent."
    )
    if not may_perform(user, "correct", referral):
        return format_html(
            "{} Phone the managers on {} to tell them whether they give it.", said, managers_duty_line()
        )
    if referral.state in (ReferralState.RECEIVED, ReferralState.ASSESSED) and not referral.still_missing():
        ends = "withdraw the referral"
    elif user.is_manager:
        ends = "record their exit from support"
    else:
        ends = format_html(
            "phone the managers on {}, who record their exit from support", managers_duty_line()
        )
    return format_html(
        "{} Once they give it, record it with “Correct details”; if they do not, {}.", said, ends
    )


def provider_misfit_words(
    user: User, referral: Referral, pending_offer: PlacementOffer | None, placement: Placement | None
) -> str:
    """What the provider of the placement or of the pending offer no longer fits, as a correction can
    change the person: a child with a provider that does not support children, a person now in a region
    it does not serve, a person needing a kind of bed it has none of; with what to do, said to the
    provider itself where it is the one to act. Empty if it fits. Whoever sees the case sees its offer or
    placement: a provider, only its own."""
    if referral.state not in OPEN_STATES:
        return ""
    for held, provider_of, where in (
        (pending_offer, "offer", "offered the person"),
        (placement, "placement", "where they are placed"),
    ):
        if held is None:
            continue
        provider = held.provider
        misfits = provider_misfits(provider, referral)
        if not misfits:
            continue
        region = referral.get_region_display()
        bed_kind = bed_needed(referral)
        person = {
            Misfit.CHILDREN: "is treated as a child",
            Misfit.REGION: f"is now in {region}",
            Misfit.BEDS: f"needs a bed {BED_FOR[bed_kind]}" if bed_kind else "",
        }
        fit = (
            f"This person {' and '.join(person[misfit] for misfit in misfits)}, and {provider.name}, {where}, "
            f"does not {misfits_in_words(misfits, referral.region, bed_kind)}."
        )
        reader = "managers" if user.is_manager else "provider" if user.is_care_provider else ""
        words = misfit_action(reader, provider_of)[1]
        if provider_of == "offer":
            return format_html(f"{{}} It cannot accept them: {words}.", fit, duty_line=managers_duty_line())
        return format_html(f"{{}} {words[0].upper()}{words[1:]}.", fit, duty_line=managers_duty_line())
    return ""


def offer_note_for(
    user: User,
    pending_offer: PlacementOffer | None,
    placement: Placement | None,
    offers: list[PlacementOffer],
) -> str:
    """The managers' note to the provider on the offer the case page shows (pending, or the one the
    placement came from), if the user may read it: a manager's input since the current offer, under the
    history's rule (``permissions.may_read_offer_note``). Empty when there is none."""
    offer = pending_offer
    if offer is None and placement is not None:
        offer = next((placed for placed in offers if placed.pk == placement.offer_id), None)
    if offer is None or not may_read_offer_note(user):
        return ""
    return offer.note


# The states a referral can be closed from as a duplicate: declined when received, withdrawn when assessed.
CLOSABLE_AS_DUPLICATE = (ReferralState.RECEIVED, ReferralState.ASSESSED)


def _after_action_url(user: User, referral_id: int) -> str:
    if referrals_visible_to(user).filter(pk=referral_id).exists():
        return reverse("referrals:case", kwargs={"pk": referral_id})
    return reverse("home")


def recovery_review_waits(deadlines: list[Deadline]) -> bool:
    """Whether, among the case's clocks, the recovery review waits for its note now: running (not paused
    while the person is missing), and its reminder gone (``services._meet_recovery_review`` refuses it
    before)."""
    now = timezone.now()
    return any(
        deadline.clock == Clock.RECOVERY_REVIEW and not deadline.paused and deadline.met_from <= now
        for deadline in deadlines
    )


def _action_form(
    name: str,
    data: Any = None,
    *,
    suggestions: list[Any],
    recovery_review_waiting: bool = True,
    initial: dict[str, Any] | None = None,
    referral: Referral | None = None,
    on_case_page: bool = False,
) -> HarbourForm:
    kwargs: dict[str, Any] = {}
    if name == "offer":
        kwargs["providers"] = _provider_choices(suggestions)
    elif name == "record_progress":
        kwargs["recovery_review_waiting"] = recovery_review_waiting
        kwargs["referral"] = referral
    elif name == "withdraw":
        kwargs["child"] = referral is not None and referral.is_child
    elif name in ("report_missing", "correct", "reassess"):
        kwargs["referral"] = referral
    elif name == "found":
        kwargs["referral"] = referral
        kwargs["say_when_due"] = not on_case_page
    elif name == "revoke_offer" and referral is not None:
        kwargs["offer"] = pending_offer_for(referral)
    return TRANSITIONS[name].form_class(data, prefix=name, initial=initial, **kwargs)


def _chosen_in_link(request: HttpRequest, name: str) -> dict[str, Any]:
    """What a link to an action's page chose in advance (``reject/?reason=no_capacity``): the form
    starts with it; only the form's own fields are taken."""
    fields = TRANSITIONS[name].form_class.base_fields
    return {field: value for field, value in request.GET.items() if field in fields}


def no_free_bed_words(provider: CareProvider, referral: Referral) -> str:
    """ "Medaille Trust has no free bed for men." if the provider lacks the bed the person needs;
    empty if it has one, or the person needs none."""
    kind = bed_needed(referral)
    if not kind or free_beds_of(provider)[kind] > 0:
        return ""
    return f"{provider.name} has no free bed {BED_FOR[BedKind(kind)]}."


def _reject_instead(
    request: HttpRequest, referral: Referral, error: NoCapacity | ProviderNoLongerSuitable
) -> HttpResponse:
    """Accepting failed for want of a bed, or because the provider can no longer take the person (it
    stopped supporting children, say). Pressing Accept again would fail the same way, so the page offers
    the rejection instead, with its reason already chosen: "no capacity", or "unsuitable"."""
    if isinstance(error, NoCapacity):
        reason = RejectReason.NO_CAPACITY
        what_now = "The offer cannot be accepted until a bed is free. If none will be free in time, reject it"
    else:
        reason, what_now = RejectReason.UNSUITABLE, "Reject it"
    context = {
        "referral": referral,
        "person": person_shown(request, referral, "reject"),
        "name": "reject",
        "spec": TRANSITIONS["reject"],
        "form": _action_form("reject", suggestions=[], initial={"reason": reason}),
        "problem": f"{error.message} {what_now}, so that the managers can offer the person elsewhere.",
    }
    return render(request, "referrals/case_action.html", context, status=error.status_code)


# The progress form's tick box, shown only while the recovery review is due (a form's fields carry its
# action's name as their prefix).
RECOVERY_REVIEW_TICK_BOX = "record_progress-recovery_review"


def _unsent_action_form(pk: int, transition: str) -> HarbourForm | None:
    return _action_form(transition, suggestions=[]) if transition in TRANSITIONS else None


@login_required_keeping_typed_work(_unsent_action_form)
@sent_once(shown_at_times=frozenset({RECOVERY_REVIEW_TICK_BOX}))
@require_http_methods(["GET", "POST"])
@explains_an_ended_offer
def case_action(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    """One §4 transition on a page of its own (GET), performed from its form (POST).

    A form that fails, here or in place on the case page, comes back on this page with its errors. One
    sent after the session ended comes back on this page once its user has signed in again, filled in
    as they left it, to check and send again.
    """
    spec = TRANSITIONS.get(transition)
    if spec is None:
        raise Http404("No such action.")
    user = _user(request)
    referral = visible_referral_or_404(user, pk)
    # Before the form is read: what it says cannot matter once the action is closed (Back, then the form
    # sent again after it was done), not even a reason left unchosen. An answer to an offer closes with
    # the offer.
    if request.method == "POST" and transition in ("accept", "reject"):
        if may_perform(user, transition, referral) and (
            unanswerable := services.answer_refusal(referral, pending_offer_for(referral))
        ):
            sent = _action_form(transition, request.POST, suggestions=[])
            return closed_offer_answer(request, referral, transition, sent, unanswerable)
    elif request.method == "POST" and (refusal := services.transition_refusal(user, transition, referral)):
        return closed_action_refused(request, referral, transition, refusal)
    suggestions = suggested_providers(referral) if transition == "offer" else []
    review_waiting = transition == "record_progress" and recovery_review_waits(case_open_deadlines(referral))
    status = 200
    if request.method == "GET":
        pending_offer = pending_offer_for(referral)
        if transition not in available_transitions(user, referral, pending_offer):
            why = not_open_words(user, referral, transition, pending_offer)
            return closed_action_answer(
                request, referral, transition, why, then=reverse("referrals:case", args=[referral.pk])
            )
        form = _action_form(
            transition,
            suggestions=suggestions,
            recovery_review_waiting=review_waiting,
            initial=_chosen_in_link(request, transition),
            referral=referral,
        )
        show_unsent_form(request, form, referral)
    else:
        form = _action_form(
            transition,
            request.POST,
            suggestions=suggestions,
            recovery_review_waiting=review_waiting,
            referral=referral,
        )
        status = 400
        if form.is_valid():
            try:
                services.perform_transition(
                    transition, referral_id=referral.pk, actor=user, **form.cleaned_data
                )
            except Referral.DoesNotExist as exc:
                raise CaseNotVisible("No such case.") from exc
            except (OfferAlreadyPending, OfferNotPending) as error:
                return closed_offer_answer(request, referral, transition, form, error)
            except (NoCapacity, ProviderNoLongerSuitable) as error:
                return _reject_instead(request, visible_referral_or_404(user, pk), error)
            except HarbourError as error:
                referral = visible_referral_or_404(user, pk)
                if isinstance(error, NotPermitted) and not can_proceed(getattr(referral, transition)):
                    # The provider's part ended with the state change (an exit, say): that is what to say.
                    error = TransitionNotAllowed(error.message)
                if isinstance(error, CorrectedSince):
                    return not_recorded(request, referral, transition, form, error.message)
                if type(error) is TransitionNotAllowed and holds_typed_text(form):
                    # Another user's action closed it after the check above (a lost race): as if sent after.
                    return closed_action_refused(request, referral, transition, error)
                status = apply_domain_error(form, error, referral)
            else:
                # ``referral`` is the case as it was before the action, in the state the action left.
                was_missing = referral.state == ReferralState.MISSING
                done = spec.done_while_missing if was_missing and spec.done_while_missing else spec.done
                if transition == "found" and was_missing:
                    done = f"{done} {check_in_due_words(referral)}".rstrip()
                # The reference alone: a message waits in a cookie (signed, not encrypted) or the session.
                # The case page it leads to names the person to whoever may see who they are.
                messages.success(request, f"{referral.reference}: {done}")
                # A progress note is the one action that can be recorded twice over.
                answer = redirect(_after_action_url(user, referral.pk))
                return form_done(answer, ask_before_repeating=transition == "record_progress")
    context = {
        "referral": referral,
        "person": person_shown(request, referral, transition),
        "name": transition,
        "spec": spec,
        "form": form,
        "suggestions": suggestions,
        # The provider answers with the managers' note in front of it, as on the case page.
        "offer_note": offer_note_for(user, pending_offer_for(referral), None, [])
        if transition in ("accept", "reject")
        else "",
    }
    return render(request, "referrals/case_action.html", context, status=status)


def check_in_due_words(referral: Referral) -> str:
    """ "Next check-in due 17:00 on 3 December.": when the check-in of the person just found falls due;
    empty if none runs (reported missing again from another tab in the meantime)."""
    due = [deadline.due_at for deadline in case_open_deadlines(referral) if deadline.clock == Clock.CHECK_IN]
    return f"Next check-in due {local_time(due[0], MOMENT_NEAR)}." if due else ""


def closed_offer_answer(
    request: HttpRequest, referral: Referral, transition: str, form: HarbourForm, error: TransitionNotAllowed
) -> HttpResponse:
    """An offer made from another tab meanwhile (``OfferAlreadyPending``), or an answer to an offer
    answered, withdrawn or run out (``OfferNotPending``). A note typed into the form comes back refused
    (``not_recorded``). Otherwise the form has nothing left to do: the case page shows the pending offer,
    the placement or what became of the offer. A provider the case has left (a colleague rejected it)
    hears what became of it from ``explains_an_ended_offer`` alone, not this guess as well."""
    user = _user(request)
    if holds_typed_text(form):
        # The case as it is now (placed with a colleague's acceptance, say), if still seen.
        current = visible_referral_or_404(user, referral.pk)
        return not_recorded(request, current, transition, form, error.message)
    if not referrals_visible_to(user).filter(pk=referral.pk).exists():
        raise CaseNotVisible("No such case.") from error
    messages.info(request, f"{referral.reference}: {error.message}")
    return redirect("referrals:case", pk=referral.pk)


def start_page_for(user: User) -> str:
    """Each role's first page."""
    if user.is_manager:
        return reverse("referrals:triage")
    if user.is_care_provider:
        return reverse("care_providers:offers")
    if user.is_first_responder:
        return reverse("referrals:case_list")
    if user.is_staff:
        return reverse("admin:index")
    raise PermissionDenied("Your account has no role yet; ask an administrator.")
