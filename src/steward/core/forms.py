"""Showing a service's refusal on the form that asked for the change."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError


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
