"""The forms both faces (back office and parent portal) ask people to fill in to get in.

They live on the ground floor because staff and parents sign in, give a code and recover an
account the same way: one definition keeps the labels, limits and error messages identical, and
the shared templates (`templates/_errors.html`, `templates/_field.html`) render them. Nothing here
knows which kind of account is asking; the faces' auth services do. `add_refusal` shows a service's
refusal on the form that asked for the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict


def posted(request: HttpRequest) -> QueryDict | None:
    """The form data of a POST, else None (an unbound form). Not `request.POST or None`: a POST whose
    fields are all empty (every box unticked, nothing typed) is still an answer, to be validated and
    saved or refused with its errors, not mistaken for a first visit."""
    return request.POST if request.method == "POST" else None


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Email address", max_length=254, error_messages={"required": "Enter your email address"}
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput, error_messages={"required": "Enter your password"}
    )


class CodeForm(forms.Form):
    token = forms.RegexField(
        label="Security code",
        regex=r"^\d{6}$",
        error_messages={
            "invalid": "Enter the 6-digit code from your authenticator app",
            "required": "Enter the 6-digit code from your authenticator app",
        },
        max_length=6,
    )


class ForgottenPasswordForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter the email address you sign in with",
            "invalid": "Enter an email address in the correct format, like name@example.com",
        },
    )


class NewPasswordForm(forms.Form):
    """A new password, typed twice, checked by `AUTH_PASSWORD_VALIDATORS` against the account
    (`account` may be any object with an `email`: the similarity check reads it)."""

    password = forms.CharField(
        label="New password", strip=False, widget=forms.PasswordInput, error_messages={"required": "Enter a password"}
    )
    password_again = forms.CharField(
        label="Type the new password again",
        strip=False,
        widget=forms.PasswordInput,
        error_messages={"required": "Type the new password again"},
    )

    def __init__(self, *args: Any, account: object, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        try:
            validate_password(password, user=cast(Any, self.account))
        except ValidationError as e:
            raise ValidationError(e.messages) from e
        return password

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The passwords do not match")
        return data


def add_refusal(form: forms.Form, refused: ValidationError, *, rename: Mapping[str, str] | None = None) -> None:
    """Put each of the service's messages on the form field it names, or at the top of the form
    when the form has no such field (the service checks rules the form cannot see).

    `rename` maps a service's argument to the form field that fed it (e.g. `expires_at` to
    `expires_on`), so the message sits next to what the user typed. Nothing is audited here: the
    service audits what it did, and a refusal changed nothing.
    """
    names = rename or {}
    by_field = refused.message_dict if hasattr(refused, "error_dict") else {None: refused.messages}
    for field, messages in by_field.items():
        target = names.get(field, field) if field is not None else None
        form.add_error(target if target in form.fields else None, messages)


class GovukDateWidget(forms.MultiWidget):
    """The GOV.UK date input: day, month and year boxes in one fieldset, because people type dates
    that way and a single "YYYY-MM-DD" box asks them to learn a format. The three parts are joined
    into an ISO date for the field to validate (so a bad date is the field's own clear error); a
    form posted with the plain ISO value (an older page, a script) is still read."""

    template_name = "core/widgets/govuk_date.html"

    def __init__(self) -> None:
        part = {"class": "govuk-input govuk-date-input__input", "inputmode": "numeric"}
        super().__init__(
            {
                "day": forms.TextInput(attrs={**part, "class": part["class"] + " govuk-input--width-2"}),
                "month": forms.TextInput(attrs={**part, "class": part["class"] + " govuk-input--width-2"}),
                "year": forms.TextInput(attrs={**part, "class": part["class"] + " govuk-input--width-4"}),
            }
        )

    def decompress(self, value: object) -> list[object]:
        if hasattr(value, "day") and hasattr(value, "month") and hasattr(value, "year"):
            return [value.day, value.month, value.year]
        if isinstance(value, str) and value.count("-") == 2:
            year, month, day = (p if p != "?" else "" for p in value.split("-"))
            return [day, month, year]  # what was typed, kept on error
        return [None, None, None]

    def value_from_datadict(  # type: ignore[override]  # one ISO string for a DateField, not a list
        self, data: Mapping[str, object], files: object, name: str
    ) -> object:
        plain = data.get(name)
        if plain and not any(f"{name}_{part}" in data for part in ("day", "month", "year")):
            return plain
        day, month, year = (str(data.get(f"{name}_{part}", "") or "").strip() for part in ("day", "month", "year"))
        if not (day or month or year):
            return ""
        return f"{year or '?'}-{month.zfill(2) if month else '?'}-{day.zfill(2) if day else '?'}"
