"""The audit trail in the admin (read-only, since rows are only ever added), and the audit of admin edits."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from referrals.encryption import ENCRYPTED_FIELD_TYPES

from .models import AuditEvent
from .services import record_admin_change

# A field whose name holds one of these never has its value recorded, whatever the admin declares.
SECRET_FIELD_WORDS = ("password", "secret", "key", "token")


def _plain(value: Any) -> Any:
    """A value as the trail stores it (JSON): records by their name, collections as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, QuerySet | list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _without(names: Collection[str], fields: Sequence[Any]) -> list[Any]:
    """A fieldset's fields less ``names``, fields shown on one line included."""
    kept = []
    for field in fields:
        if isinstance(field, list | tuple):
            field = [name for name in field if name not in names]
            if not field:
                continue
        elif field in names:
            continue
        kept.append(field)
    return kept


class EncryptedFieldsHiddenAdmin(admin.ModelAdmin):
    """No page of this admin shows the value of an encrypted field (``referrals.encryption``): a person's
    details, a note about them, a secret. The admin is for configuration, and what it shows is not read
    into the audit trail. Such a field is left off every page and list, but on a form that changes the
    record and gives it a field of its own, which takes a new value without showing the one stored (a
    webhook secret's box): never on a page that only shows the record, which would show the value."""

    def encrypted_fields(self) -> set[str]:
        return {
            field.name for field in self.model._meta.get_fields() if isinstance(field, ENCRYPTED_FIELD_TYPES)
        }

    def hidden_fields(self, request: HttpRequest, obj: Any = None) -> set[str]:
        """The encrypted fields the record's page leaves off: all but a changing form's own fields."""
        editable = (
            self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request)
        )
        if not editable:
            return self.encrypted_fields()
        return self.encrypted_fields() - (
            set(self.form.declared_fields) - set(self.get_readonly_fields(request, obj))
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        hidden = self.hidden_fields(request, obj)
        return [
            (title, {**options, "fields": _without(hidden, options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_list_display(self, request: HttpRequest) -> Any:
        return _without(self.encrypted_fields(), super().get_list_display(request))


class AuditedModelAdmin(EncryptedFieldsHiddenAdmin):
    """Every add, change and delete made through this admin goes into the append-only trail (SPEC §10),
    with who, from where, the fields changed and their values before and after.

    Values are left out, and the field shown only as changed, for the fields in ``audit_withheld``
    (personal details) and any field named like a password, secret, key or token. A URL is shown only
    by its host, since its path or query may carry a credential.
    """

    audit_withheld: tuple[str, ...] = ()

    def audit_withholds(self, name: str) -> bool:
        return name in self.audit_withheld or any(word in name for word in SECRET_FIELD_WORDS)

    def audit_value(self, field: forms.Field, value: Any) -> Any:
        if isinstance(field, forms.URLField):
            return urlsplit(value).hostname if value else value
        return _plain(value)

    def audit_initial(self, form: forms.BaseForm, name: str) -> Any:
        """The field's value before the edit. A foreign key's initial value is its id: show the record."""
        field, value = form.fields[name], form[name].initial
        single_choice = isinstance(field, forms.ModelChoiceField) and not isinstance(
            field, forms.ModelMultipleChoiceField
        )
        if single_choice and value not in (None, "") and not isinstance(value, Model):
            with contextlib.suppress(ValidationError):  # no longer to be had: the id is shown
                value = field.to_python(value)
        return self.audit_value(field, value)

    def audit_changes(self, form: forms.BaseForm, *, change: bool) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in form.changed_data:
            if self.audit_withholds(name):
                changes[name] = "changed"
                continue
            after = self.audit_value(form.fields[name], form.cleaned_data.get(name))
            changes[name] = (
                {"before": self.audit_initial(form, name), "after": after} if change else {"after": after}
            )
        return changes

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic(using=router.db_for_write(type(obj))):
            super().save_model(request, obj, form, change)
            record_admin_change(
                actor=request.user,  # type: ignore[arg-type]  # the admin is for signed-in staff
                obj=obj,
                done="changed" if change else "added",
                changes=self.audit_changes(form, change=change),
                request=request,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        # Recorded first, while the record still has its number; one transaction with the delete.
        with transaction.atomic(using=router.db_for_write(type(obj))):
            self._record_deletion(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic(using=router.db_for_write(queryset.model)):
            for obj in queryset:
                self._record_deletion(request, obj)
            super().delete_queryset(request, queryset)

    def deletion_changes(self, obj: Any) -> dict[str, Any]:
        """What the trail keeps of a deleted record besides its kind, number and name: nothing, unless
        its name alone does not say what the deletion did."""
        return {}

    def _record_deletion(self, request: HttpRequest, obj: Any) -> None:
        record_admin_change(
            actor=request.user,  # type: ignore[arg-type]
            obj=obj,
            done="deleted",
            changes=self.deletion_changes(obj),
            request=request,
        )


class ReadOnlyModelAdmin(EncryptedFieldsHiddenAdmin):
    """Records that only the services write: the admin lists and shows them and changes nothing, so an
    edit that the trail would not show (a hidden escalation, an inbox message to anyone) cannot happen."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["at", "action", "actor", "username", "ip_address", "referral", "what"]
    list_filter = ["action"]
    search_fields = ["username", "actor__username", "referral__reference", "what"]
    date_hierarchy = "at"
    list_select_related = ["actor", "referral"]
