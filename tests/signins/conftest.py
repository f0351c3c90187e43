"""Browsers for the sessions tests: a Django test Client that connects from a given address with a
given User-Agent, signed in through the real sign-in pages (staff: password and code; parents:
password), at a moment the test chooses (time-machine), so no test depends on today's date."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from steward.portal.models import ParentAccount
from steward.tenancy.models import Organisation, Role, User
from tests import factories
from tests.backoffice.conftest import choose
from tests.portal import families as f

# Countries the shipped database knows (see test_places.py): a British and an American address.
GB_ADDRESS = "81.2.69.160"
US_ADDRESS = "8.8.8.8"
CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# A Monday morning in term, in UTC (10:00 in London in summer time would differ: this is March).
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def browser(address: str = GB_ADDRESS, agent: str = CHROME_ON_WINDOWS) -> Client:
    return Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)


def staff_browser(
    user: User,
    at: dt.datetime,
    *,
    address: str = GB_ADDRESS,
    agent: str = CHROME_ON_WINDOWS,
    school: Organisation | None = None,
) -> Client:
    """Signed in at `at` (each sign-in of one person at its own 30-second step: a code is used once)."""
    client = browser(address, agent)
    with time_machine.travel(at, tick=False):
        response = client.post("/sign-in/", {"email": user.email, "password": factories.PASSWORD})
        assert response.status_code == 302, response.content[:300]
        response = client.post("/sign-in/verify/", {"token": factories.current_code(user)})
        assert response.status_code == 302, response.content[:300]
        if school is not None:
            choose(client, school)
    return client


def parent_browser(
    parent: ParentAccount, at: dt.datetime, *, address: str = GB_ADDRESS, agent: str = CHROME_ON_WINDOWS
) -> Client:
    client = browser(address, agent)
    with time_machine.travel(at, tick=False):
        f.portal_sign_in(client, parent.email)
    return client


def at(minutes: float) -> dt.datetime:
    return MONDAY + dt.timedelta(minutes=minutes)


@pytest.fixture
def alder() -> Organisation:
    return factories.school("Alder Primary")


@pytest.fixture
def birch() -> Organisation:
    return factories.school("Birch Academy")


@pytest.fixture
def admin_a(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, alder, email="admin@alder.invalid")


@pytest.fixture
def dpo_a(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")


@pytest.fixture
def dpo_b(birch: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, birch, email="dpo@birch.invalid")
