"""Forms sent after the session ended: whose they were, and what was typed into them, kept for a moment.

A form carries its owner, signed for the address it posts to (``owner_token``), so that a form that
arrives after its user's session ended still proves whose it was. The signature holds the user's session
auth hash, so that a new password or ``end_sign_ins`` voids it, and the key of the browser that showed the
form (``accounts.sessions.browser_key``, given at sign-in): the browser goes on sending it after the session
has lapsed, from every tab, and nobody else has it, so a copy of the page's ``owner`` value is of no use
elsewhere, nor after signing out there. What was typed is then kept for that
user alone, encrypted, for UNSENT_FORM_LIFETIME_MINUTES, and shown to them once, on the same form, after
they sign in again; nothing is performed for them. Each such form is kept apart, never in place of one
kept before. The intake keeps it as a new draft instead (``drafts``).

The audit trail names what was kept by its number, its form and the fields typed, never what was typed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from accounts.sessions import BROWSER_KEY_COOKIE
from audit.models import AuditAction
from audit.services import record_change

from .models import Referral, UnsentForm

if TYPE_CHECKING:
    from django.utils.datastructures import MultiValueDict

OWNER_FIELD = "owner"
# In the address its owner is sent back to after signing in: when what was kept expires (a Unix time), so
# that the form can say it was deleted, should they sign in later than that.
KEPT_UNTIL_PARAMETER = "kept_until"
OWNER_SALT = "referrals.form.owner"
# A form may be open for long after the session that showed it ended (overnight, say); a day covers that
# (and ``accounts.sessions.BROWSER_KEY_MAX_AGE``).
OWNER_MAX_AGE = datetime.timedelta(days=1)


def _sign_in_digest(user: User) -> str:
    """Changes with the user's password and ``session_stamp``; not the hash itself, which is shown."""
    return salted_hmac(f"{OWNER_SALT}:sign-in", user.get_session_auth_hash()).hexdigest()


def _browser_digest(browser_key: str) -> str:
    """Names the browser that showed the form, without showing its key (the page is no secret)."""
    return salted_hmac(f"{OWNER_SALT}:browser", browser_key).hexdigest()


def owner_token(user: User, form: str, browser_key: str) -> str:
    """The form's ``owner`` field: the user's id, organisation, role and sign-in, and the browser showing
    it, signed for the address ``form`` posts to and dated."""
    return signing.dumps(
        [user.pk, user.organisation_id, user.role, _sign_in_digest(user), _browser_digest(browser_key)],
        salt=f"{OWNER_SALT}:{form}",
    )


def _owner_and_browser(request: HttpRequest) -> tuple[User, str] | None:
    try:
        user_id, organisation_id, role, sign_in, browser = signing.loads(
            request.POST.get(OWNER_FIELD, ""), salt=f"{OWNER_SALT}:{request.path}", max_age=OWNER_MAX_AGE
        )
    except (signing.BadSignature, TypeError, ValueError):  # an older token holds less
        return None
    user = (
        User.objects.filter(pk=user_id, organisation_id=organisation_id, role=role, is_active=True)
        .select_related("organisation")
        .first()
    )
    if user is None or not constant_time_compare(sign_in, _sign_in_digest(user)):
        return None
    return user, browser


def signed_owner(request: HttpRequest) -> User | None:
    """The active user whose form this POST is, from its signed ``owner`` field, sent by the browser
    that showed it; None if the field is missing, tampered with, older than OWNER_MAX_AGE or signed for
    another form, if it comes from another browser or one signed out since, if the user's password or
    sign-ins have changed since, or if they have moved to another organisation or role: what they typed
    for the old one is not theirs now."""
    signed = _owner_and_browser(request)
    browser_key = request.COOKIES.get(BROWSER_KEY_COOKIE, "")
    if (
        signed is None
        or not browser_key
        or not constant_time_compare(signed[1], _browser_digest(browser_key))
    ):
        return None
    return signed[0]


def signed_in_owner(request: HttpRequest) -> User | None:
    """The signed-in user, if this POST's ``owner`` field is theirs and still valid (as ``signed_owner``),
    from whichever of their sessions: signing in again gave the browser a new one."""
    signed = _owner_and_browser(request)
    if signed is None or signed[0].pk != request.user.pk:
        return None
    return signed[0]


def unsent_form_label(unsent_id: int) -> str:
    """How the trail names what was kept: by its number alone, since what was typed may be personal."""
    return f"unsent form {unsent_id}"


def typed_values(form: Form, posted: MultiValueDict[str, str]) -> dict[str, list[str]]:
    """The posted values of the form's own fields that hold something, by their names as posted."""
    typed = {}
    for name in form.fields:
        key = form.add_prefix(name)
        values = [value for value in posted.getlist(key) if value.strip()]
        if values:
            typed[key] = values
    return typed


def keep_unsent_form(
    *,
    owner: User,
    form: str,
    data: Mapping[str, list[str]],
    referral: Referral | None = None,
    request: HttpRequest | None = None,
) -> UnsentForm:
    """Keep what was typed into the owner's form at address ``form`` (an action on ``referral``, if
    any), beside anything kept before: nothing typed earlier is replaced."""
    with transaction.atomic():
        unsent = UnsentForm.objects.create(
            owner=owner,
            form=form,
            data=dict(data),
            expires_at=timezone.now() + datetime.timedelta(minutes=settings.UNSENT_FORM_LIFETIME_MINUTES),
        )
        record_change(
            actor=owner,
            referral=referral,
            what=f"{unsent_form_label(unsent.pk)}: kept from a lapsed session",
            changes={"form": form, "fields": sorted(data)},
            request=request,
        )
    return unsent


def take_unsent_form(
    *,
    owner: User,
    form: str,
    request: HttpRequest,
    referral: Referral | None = None,
    shown: bool | Callable[[Mapping[str, list[str]]], bool] = True,
) -> dict[str, list[str]] | None:
    """What the owner typed into the form at address ``form`` before their session ended, if it has not
    expired, the latest first; deleted as it is taken, so that it is shown once (to one request, if two
    race), and any kept earlier is shown next time. Taken with
    ``shown`` false, it is only deleted: the action it was typed for has closed. ``shown`` may instead
    say, from what was typed, whether it is shown, so that the trail says truly which it was."""
    unsent = (
        UnsentForm.objects.filter(owner=owner, form=form, expires_at__gt=timezone.now())
        .order_by("-pk")
        .first()
    )
    if unsent is None:
        return None
    if callable(shown):
        shown = shown(unsent.data)
    with transaction.atomic():
        deleted, _ = UnsentForm.objects.filter(pk=unsent.pk).delete()
        if not deleted:
            return None
        record_change(
            actor=owner,
            referral=referral,
            action=AuditAction.READ if shown else AuditAction.CHANGE,
            what=f"{unsent_form_label(unsent.pk)}: "
            + ("shown again on its form" if shown else "deleted unseen, its action having closed"),
            request=request,
        )
    return dict(unsent.data)


def address_after_sign_in(request: HttpRequest, unsent: UnsentForm) -> str:
    """The form's own address, saying until when what was typed into it is kept."""
    query = request.GET.copy()
    query[KEPT_UNTIL_PARAMETER] = f"{unsent.expires_at.timestamp():.0f}"
    return f"{request.path}?{query.urlencode()}"


def kept_copy_expired(request: HttpRequest) -> bool:
    """Whether the address says that what was typed into the form was kept until a time now past."""
    kept_until = request.GET.get(KEPT_UNTIL_PARAMETER, "")
    return kept_until.isdecimal() and int(kept_until) <= timezone.now().timestamp()


def as_posted(data: Mapping[str, list[str]]) -> QueryDict:
    """What was kept, as the POST it was taken from."""
    posted = QueryDict(mutable=True)
    for key, values in data.items():
        posted.setlist(key, values)
    return posted


def initial_from(form: Form, data: Mapping[str, list[str]]) -> dict[str, object]:
    """The form's initial values from what was posted to it, read as each field's widget reads a POST
    (a ticked box, several choices, a date)."""
    posted = as_posted(data)
    return {
        name: field.widget.value_from_datadict(posted, {}, form.add_prefix(name))
        for name, field in form.fields.items()
        if form.add_prefix(name) in posted
    }


def delete_expired_unsent_forms() -> int:
    """Delete everything kept past its lifetime; audited once per run that deleted any."""
    with transaction.atomic():
        deleted, _ = UnsentForm.objects.filter(expires_at__lte=timezone.now()).delete()
        if deleted:
            record_change(
                actor=None,
                referral=None,
                action=AuditAction.RETENTION,
                what="retention: expired unsent forms deleted",
                changes={"unsent_forms": deleted},
            )
    return deleted
