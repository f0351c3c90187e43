"""Public privacy notices, generated per school and service (no sign-in: parents and staff read them).

Each render of a live notice (page or PDF) goes through `notice_publish`, so what a reader saw is
always a recorded version; old versions are read back from their stored text.

These pages are public and about no pupil, so unlike every other page (`NoStoreMiddleware`) they may
be kept by a browser or proxy, but only as `no-cache`: they name the school's data protection
contacts, and a copy must be checked again before use so a changed contact shows at once.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.views.decorators.cache import cache_control

from steward.core.ratelimit import per_address
from steward.notices import selectors
from steward.notices.notice_text import diff, parse
from steward.notices.notices import Notice, notice_for, services_in_force
from steward.notices.services import notice_publish, notice_version_pdf
from steward.register.models import ProcessingActivity
from steward.tenancy.models import Organisation

# Anyone may read a notice; no one may keep the server busy building them (each is generated
# from the register, and the PDF is stored per version, but a crawl still costs every page).
public = per_address("public_notice_address", "Too many privacy notice pages from your network in a minute.")


def _school(urn: int) -> Organisation:
    return get_object_or_404(Organisation, kind=Organisation.Kind.SCHOOL, urn=urn)


def _notice(urn: int, service: str) -> Notice:
    found = notice_for(school=_school(urn), service=service)
    if found is None:
        raise Http404("This school does not use that service")
    return found


@cache_control(no_cache=True)
@public
def notice_index(request: HttpRequest, urn: int) -> HttpResponse:
    school = _school(urn)
    return render(request, "notices/index.html", {"school": school, "activities": services_in_force(school)})


@cache_control(no_cache=True)
@public
def notice(request: HttpRequest, urn: int, service: str) -> HttpResponse:
    found = _notice(urn, service)
    # Signed-in staff (two factors) see each section's source in the register; the public does not.
    user = getattr(request, "user", None)
    staff = bool(user and user.is_authenticated and getattr(user, "is_verified", lambda: False)())
    return render(
        request,
        "notices/notice.html",
        {"notice": found, "version": notice_publish(notice=found), "show_sources": staff},
    )


@cache_control(no_cache=True)
@public
def notice_pdf(request: HttpRequest, urn: int, service: str) -> HttpResponse:
    found = _notice(urn, service)
    version = notice_publish(notice=found)
    pdf = notice_version_pdf(
        version=version,
        html=lambda: render_to_string("notices/notice_print.html", {"notice": found, "version": version}),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="privacy-notice-{urn}-{service}-v{version.number}.pdf"'
    return response


def _history(urn: int, service: str) -> tuple[Organisation, ProcessingActivity, bool]:
    """The school and activity of a notice's history. Versions outlive a contract, so a service the
    school no longer uses still shows what it published; the current notice is recorded first."""
    school = _school(urn)
    activity = get_object_or_404(ProcessingActivity, service=service)
    current = notice_for(school=school, service=service)
    if current is not None:
        notice_publish(notice=current)
    return school, activity, current is not None


@cache_control(no_cache=True)
@public
def notice_versions(request: HttpRequest, urn: int, service: str) -> HttpResponse:
    school, activity, in_force = _history(urn, service)
    versions = selectors.notice_versions(school_id=school.id, service=service)
    if not versions:
        raise Http404("This school has published no notice for that service")
    return render(
        request,
        "notices/versions.html",
        {"school": school, "activity": activity, "in_force": in_force, "versions": versions},
    )


@cache_control(no_cache=True)
@public
def notice_version(request: HttpRequest, urn: int, service: str, number: int) -> HttpResponse:
    school = _school(urn)
    version = selectors.notice_version(school_id=school.id, service=service, number=number)
    if version is None:
        raise Http404("No such version")
    latest = selectors.notice_versions(school_id=school.id, service=service)[0]
    return render(
        request,
        "notices/version.html",
        {"school": school, "version": version, "document": parse(version.content), "latest": latest},
    )


@cache_control(no_cache=True)
@public
def notice_version_diff(request: HttpRequest, urn: int, service: str, number: int) -> HttpResponse:
    school = _school(urn)
    version = selectors.notice_version(school_id=school.id, service=service, number=number)
    if version is None:
        raise Http404("No such version")
    previous = selectors.notice_version(school_id=school.id, service=service, number=number - 1)
    hunks = diff(previous.content, version.content) if previous else []
    lines = [line for hunk in hunks for line in hunk.lines]
    return render(
        request,
        "notices/version_diff.html",
        {
            "school": school,
            "version": version,
            "previous": previous,
            "title": parse(version.content).title,
            "hunks": hunks,
            "added": sum(line.change == "added" for line in lines),
            "removed": sum(line.change == "removed" for line in lines),
        },
    )
