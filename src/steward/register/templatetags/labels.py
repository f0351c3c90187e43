"""Template filters over `steward.register.labels`, loaded in every template (settings' `builtins`),
so a template says `{{ field|field_label }}` and never prints a code."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from steward.register import labels

register = template.Library()

register.filter("field_label", labels.field_label)
register.filter("record_type_label", labels.record_type_label)
register.filter("service_label", labels.service_label)
register.filter("category_label", labels.category_label)
register.filter("recipient_label", labels.recipient_label)
register.filter("model_label", labels.model_label)
register.filter("action_label", labels.action_label)


@register.filter
def record_types_label(codes: Iterable[str]) -> str:
    """A list of record types as words, joined for a sentence or a table cell."""
    return ", ".join(labels.record_type_label(c) for c in codes)


@register.filter
def categories_label(codes: Iterable[str]) -> str:
    return ", ".join(labels.category_label(c) for c in codes)


@register.filter
def services_label(codes: Iterable[str]) -> str:
    return ", ".join(labels.service_label(c) for c in codes)
