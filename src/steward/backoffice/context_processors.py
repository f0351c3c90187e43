"""What every back-office page header shows: the current school, the school switcher, the menu,
and the support-access banner while a processor user works under a school's grant."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from steward.backoffice.menu import menu_links
from steward.servicedesk.selectors import support_grant_banner
from steward.tenancy.models import Organisation
from steward.tenancy.selectors import processor_roles, schools_for_user


def page_header(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_verified():  # type: ignore[union-attr]
        return {}
    school_id = getattr(request, "school_id", None)
    schools = list(schools_for_user(user=user))  # type: ignore[arg-type]
    current = next((s for s in schools if s.id == school_id), None)
    match = request.resolver_match
    grant = support_grant_banner(getattr(request, "support_grant", ""), school_id)
    return {
        "support_grant": grant,
        "support_school": Organisation.objects.filter(pk=grant.school_id).first() if grant else None,
        "current_school": current,
        "switchable_schools": schools,
        "menu": menu_links(
            match.url_name or "" if match is not None else "",
            school_roles=getattr(request, "school_roles", ()) if current is not None else (),
            processor_roles=processor_roles(user=user),  # type: ignore[arg-type]
        ),
    }
