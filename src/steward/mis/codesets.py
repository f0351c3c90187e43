"""Placeholder: being written."""

from typing import Any

CODE_SETS: dict[str, dict[str, str]] = {}


def sync_code_sets(apps: Any) -> None:
    CodeValue = apps.get_model("mis", "CodeValue")
    for code_set, values in CODE_SETS.items():
        for code, description in values.items():
            CodeValue.objects.update_or_create(code_set=code_set, code=code, defaults={"description": description})
