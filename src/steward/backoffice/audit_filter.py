"""The audit log's filter form: person, pupil, record, action and a date range in GOV.UK date inputs.

A GOV.UK date input is three boxes (day, month, year), so a date is three fields here, checked
together: an impossible date ("31 February") or half a date is an error on that date, said in
words, and the list is not filtered by a guess.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from steward.audit.labels import action_choices, record_type_choices


class AuditFilterForm(forms.Form):
    person = forms.CharField(label="Who did it", required=False, max_length=200)
    pupil = forms.CharField(label="Pupil (name or UPN)", required=False, max_length=200)
    record_type = forms.ChoiceField(label="Kind of record", required=False, choices=())
    record_id = forms.CharField(label="Record id", required=False, max_length=64)
    action = forms.ChoiceField(label="What they did", required=False, choices=())
    from_day = forms.CharField(required=False, max_length=2)
    from_month = forms.CharField(required=False, max_length=2)
    from_year = forms.CharField(required=False, max_length=4)
    to_day = forms.CharField(required=False, max_length=2)
    to_month = forms.CharField(required=False, max_length=2)
    to_year = forms.CharField(required=False, max_length=4)

    DATES = {"from": "The start date", "to": "The end date"}

    def __init__(self, *args: Any, with_pupils: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["record_type"].choices = [("", "Any"), *record_type_choices()]  # type: ignore[attr-defined]
        self.fields["action"].choices = [("", "Any"), *action_choices()]  # type: ignore[attr-defined]
        if not with_pupils:  # the processor's log: it may not look pupils up by name
            del self.fields["pupil"]
        self.date_errors: dict[str, str] = {}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for prefix, name in self.DATES.items():
            parts = [str(data.get(f"{prefix}_{p}") or "").strip() for p in ("day", "month", "year")]
            data[f"date_{prefix}"] = None
            if not any(parts):
                continue
            error = _date_error(name, *parts)
            if error:
                self.date_errors[prefix] = error
                self.add_error(f"{prefix}_day", error)
            else:
                data[f"date_{prefix}"] = dt.date(int(parts[2]), int(parts[1]), int(parts[0]))
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            message = "The end date must be the same as or after the start date"
            self.date_errors["to"] = message
            self.add_error("to_day", message)
        return data


def _date_error(name: str, day: str, month: str, year: str) -> str:
    missing = [label for label, part in (("day", day), ("month", month), ("year", year)) if not part]
    if missing:
        return f"{name} must include a {' and a '.join(missing)}"
    if not (day.isdigit() and month.isdigit() and year.isdigit()) or len(year) != 4:
        return f"{name} must be a real date, with a 4-digit year"
    try:
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return f"{name} must be a real date"
    return ""
