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
    """Back office: who to invite. One contact, a year group, a class, or everyone not yet invited."""

    scope = forms.ChoiceField(
        choices=[
            ("contact", "One contact"),
            ("year", "A year group"),
            ("group", "A class or group"),
            ("all", "Everyone not yet invited"),
        ]
    )
    contact = forms.CharField(required=False, max_length=100)
    year_group = forms.CharField(required=False, max_length=3)
    group = forms.CharField(required=False, max_length=100)

    # The field each scope needs: without it, a narrowed invitation would go to everyone.
    NEEDS = {
        "contact": ("contact", "Enter the contact's MIS id"),
        "year": ("year_group", "Choose a year group"),
        "group": ("group", "Choose a class or group"),
    }

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        field, message = self.NEEDS.get(str(data.get("scope")), ("", ""))
        if field and not data.get(field):
            self.add_error(field, message)
        return data
