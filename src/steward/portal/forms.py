from django import forms

# Sign-in and code forms are shared with the back office (core/forms.py); named here too for
# the portal's own pages that ask for a code.
from steward.core.forms import CodeForm as CodeForm
from steward.core.forms import SignInForm as SignInForm
from steward.portal.models import NOTIFICATION_KINDS


class RegisterForm(forms.Form):
    full_name = forms.CharField(label="Your full name", max_length=150)
    password = forms.CharField(label="Create a password", strip=False, widget=forms.PasswordInput, min_length=10)
    password_again = forms.CharField(label="Type the password again", strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The passwords do not match")
        return data


class PreferencesForm(forms.Form):
    notify_kinds = forms.MultipleChoiceField(
        label="Tell me about", choices=NOTIFICATION_KINDS, required=False, widget=forms.CheckboxSelectMultiple
    )
    notify_by_email = forms.BooleanField(label="By email", required=False)
    notify_by_push = forms.BooleanField(label="By notifications on this device", required=False)


class CorrectionForm(forms.Form):
    correction = forms.CharField(
        label="What is wrong, and what should it say?", max_length=2000, widget=forms.Textarea(attrs={"rows": 5})
    )


class InviteForm(forms.Form):
    """Back office: who to invite. A year group, a class, chosen contacts, or everyone not yet invited.

    No choice is made for the admin (GOV.UK: radios start unchosen), and the narrowing field a choice
    needs is required with it: without it, a narrowed invitation would go to everyone. The choices come
    from the school's own data, so an unknown year, class or contact is refused by name."""

    scope = forms.ChoiceField(
        label="Who do you want to invite?",
        choices=[
            ("year", "A year group"),
            ("group", "A class or group"),
            ("contacts", "Parents and carers I choose"),
            ("all", "Everyone not yet invited"),
        ],
        error_messages={"required": "Choose who to invite", "invalid_choice": "Choose who to invite"},
    )
    year_group = forms.ChoiceField(
        label="Year group", required=False, error_messages={"invalid_choice": "Choose a year group from the list"}
    )
    group = forms.ChoiceField(
        label="Class or group",
        required=False,
        error_messages={"invalid_choice": "Choose a class or group from the list"},
    )
    contacts = forms.MultipleChoiceField(
        label="Parents and carers",
        required=False,
        error_messages={"invalid_choice": "%(value)s is not a parent or carer who can be invited"},
    )

    # The field each scope needs, and the message when it is missing.
    NEEDS = {
        "year": ("year_group", "Choose a year group"),
        "group": ("group", "Choose a class or group"),
        "contacts": ("contacts", "Choose at least one parent or carer"),
    }

    def __init__(
        self,
        data: object = None,
        *,
        year_groups: list[tuple[str, str]],
        groups: list[tuple[str, str]],
        contacts: list[tuple[str, str]],
    ) -> None:
        super().__init__(data, auto_id="%s")  # type: ignore[arg-type]
        self.fields["year_group"].choices = [("", "Select a year group"), *year_groups]  # type: ignore[attr-defined]
        self.fields["group"].choices = [("", "Select a class or group"), *groups]  # type: ignore[attr-defined]
        self.fields["contacts"].choices = contacts  # type: ignore[attr-defined]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        field, message = self.NEEDS.get(str(data.get("scope")), ("", ""))
        if field and field not in self.errors and not data.get(field):
            self.add_error(field, message)
        return data
