from __future__ import annotations

import pytest
from django.test import Client

from steward.tenancy.models import Organisation, Role, User
from tests import factories


@pytest.fixture
def school_a() -> Organisation:
    return factories.school("Alder Primary")


@pytest.fixture
def school_b() -> Organisation:
    return factories.school("Birch Academy")


@pytest.fixture
def admin_a(school_a: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, school_a, email="admin@alder.invalid")


@pytest.fixture
def admin_b(school_b: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, school_b, email="admin@birch.invalid")


@pytest.fixture
def dpo(client: Client, school_a: Organisation) -> User:
    """A DPO of school A, signed in on `client` with the school chosen."""
    user = factories.user(Role.SCHOOL_DPO, school_a)
    sign_in(client, user)
    choose(client, school_a)
    return user


def sign_in(client: Client, user: User) -> None:
    """The real two-step sign-in: password, then the current TOTP code."""
    response = client.post("/sign-in/", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/sign-in/verify/", response.content[:500]
    response = client.post("/sign-in/verify/", {"token": factories.current_code(user)})
    assert response.status_code == 302, response.content[:500]


def choose(client: Client, school: Organisation) -> None:
    response = client.post("/schools/switch/", {"school": school.id})
    assert response.status_code == 302
