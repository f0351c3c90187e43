"""Fixtures for the parent portal in a real browser: one school of families per test, committed so
that the test server sees it. Helpers shared by these tests are in `tests.browser.portal.portal`."""

from __future__ import annotations

import pytest

from steward.tenancy.models import Organisation
from tests.portal import families


@pytest.fixture
def school(committed_db: None) -> Organisation:
    """Sam (L1, parent Alex C1) and Priya (L2, parent Raj C2), sent through the real ingest."""
    return families.family_school("Browser Primary")
