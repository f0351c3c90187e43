"""Public privacy notices, generated per school and service (no sign-in: parents and staff read them)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from steward.register.notices import notice_for, services_in_force
from steward.tenancy.models import Organisation


def _school(urn: int) -> Organisation:
    return get_object_or_404(Organisation, kind=Organisation.Kind.SCHOOL, urn=urn)


def notice_index(request: HttpRequest, urn: int) -> HttpResponse:
    school = _school(urn)
    return render(request, "notices/index.html", {"school": school, "activities": services_in_force(school)})


def notice(request: HttpRequest, urn: int, service: str) -> HttpResponse:
    found = notice_for(school=_school(urn), service=service)
    if found is None:
        raise Http404("This school does not use that service")
    return render(request, "notices/notice.html", {"notice": found})
