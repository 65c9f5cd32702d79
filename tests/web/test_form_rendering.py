"""Fields rendered in Python (``referrals.renderers``, ``field_group``) give the HTML Django's templates give."""

import re

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from accounts.forms import OrganisationForm, SignInForm
from accounts.mfa_views import CodeForm
from audit.forms import AuditFilterForm
from care_providers.forms import CareProviderForm
from referrals import forms as referral_forms
from referrals.renderers import HarbourFormRenderer
from referrals.templatetags.form_fields import field_group
from reports.forms import ReportFilterForm

pytestmark = pytest.mark.django_db

# The renderer serves every form of the project (FORM_RENDERER), the admin's included.
PROJECT_FORMS = [
    *(
        form_class
        for form_class in vars(referral_forms).values()
        if isinstance(form_class, type)
        and issubclass(form_class, forms.Form)
        and form_class not in (forms.Form, referral_forms.HarbourForm)
    ),
    OrganisationForm,
    CodeForm,
    AuditFilterForm,
    CareProviderForm,
    ReportFilterForm,
    SignInForm,
]


def blank_and_with_errors(form_class: type[forms.Form]) -> list[forms.Form]:
    failed = form_class(data={"unknown": "<b>"}, prefix="action")
    failed.is_valid()
    for name in failed.fields:
        if not failed[name].errors:
            failed.add_error(name, "Fix <this> & that")
    return [form_class(), failed]


@pytest.mark.parametrize("form_class", PROJECT_FORMS, ids=lambda form_class: form_class.__name__)
def test_every_widget_of_every_form_renders_as_djangos_templates_render_it(form_class):
    for form in blank_and_with_errors(form_class):
        for field in form:
            widget = field.field.widget
            attrs = field.build_widget_attrs({"id": field.auto_id})
            expected = widget.render(field.html_name, field.value(), attrs, renderer=DjangoTemplates())
            rendered = widget.render(field.html_name, field.value(), attrs, renderer=HarbourFormRenderer())
            assert rendered == expected, field.html_name


@pytest.mark.parametrize(
    ("widget", "value"),
    [
        (
            forms.TextInput(attrs={"placeholder": 'say "hi" <now>', "required": True, "disabled": False}),
            "a&b",
        ),
        (forms.Textarea(attrs={"rows": 3}), "line one\n<script>alert(1)</script>"),
        (forms.Select(choices=[("a", "A & B"), ("Group <1>", [("b", "B"), ("c", "C")])]), "b"),
        (forms.SelectMultiple(choices=[("a", "A"), ("b", "<B>")]), ["a", "b"]),
        (forms.NullBooleanSelect(), None),
        (forms.CheckboxInput(), True),
        (forms.NumberInput(), 5),
        (forms.HiddenInput(), "x'y"),
    ],
)
def test_values_labels_and_attributes_are_escaped_as_the_templates_escape_them(widget, value):
    expected = widget.render("name", value, {"id": "id_name"}, renderer=DjangoTemplates())
    assert widget.render("name", value, {"id": "id_name"}, renderer=HarbourFormRenderer()) == expected


def test_a_field_with_an_error_is_labelled_described_by_its_hint_and_error_and_marked_invalid():
    form = referral_forms.ProgressForm({"progress-next_check_in": "not a date"}, prefix="progress")
    form.is_valid()
    html = field_group(form["next_check_in"])
    assert '<label for="id_progress-next_check_in">Next check-in (optional)</label>' in html
    assert 'id="id_progress-next_check_in_helptext"' in html
    assert 'id="id_progress-next_check_in_error"' in html
    widget = re.search(r"<input[^>]*>", html)[0]
    assert 'aria-describedby="id_progress-next_check_in_helptext id_progress-next_check_in_error"' in widget
    assert 'aria-invalid="true"' in widget
    assert "field-has-error" in html


def test_a_radio_group_is_a_fieldset_whose_legend_is_the_label():
    html = field_group(referral_forms.AssessForm(prefix="assess")["risk"])
    assert re.search(r"<fieldset[^>]*>\s*<legend>Risk</legend>", html)
    assert html.count('type="radio"') == 3 and "</fieldset>" in html


def test_free_text_in_an_error_message_is_escaped():
    form = referral_forms.FoundForm({}, prefix="found")
    form.add_error("note", "<script>x</script>")
    html = field_group(form["note"])
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
