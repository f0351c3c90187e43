"""The apps' subscriptions match DESIGN.md's event table, and the upward calls events replaced do
not come back (issue #11: a lower layer never imports a higher one, not even inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import steward
from steward.consents.events import ConsentWithdrawn
from steward.core.events import FlowChanged, SubjectErased, subscribers
from steward.ingest.events import BatchApplied
from steward.register.events import CatalogueSynced
from steward.retention.events import SchoolPurging, SubjectErasureReplayed, TerminationStarted
from steward.tenancy.events import DataProtectionContactChanged

SRC = Path(steward.__file__).parent


def test_the_apps_subscribe_as_the_design_says() -> None:
    assert sorted(subscribers(BatchApplied)) == [
        ("steward.portal.tasks.on_batch_applied", "after_commit"),
        ("steward.provisioning.events.on_batch_applied", "after_commit"),
        ("steward.rights.services.on_batch_applied", "in_transaction"),
    ]
    assert sorted(subscribers(SubjectErased)) == [
        ("steward.provisioning.privacy.on_subject_erased", "in_transaction"),
        ("steward.retention.services.on_subject_erased", "in_transaction"),
        ("steward.servicedesk.copies.on_subject_erased", "after_commit"),
    ]
    assert subscribers(SubjectErasureReplayed) == [("steward.servicedesk.copies.on_subject_erased", "after_commit")]
    assert sorted(subscribers(SchoolPurging)) == [
        ("steward.rights.services.on_school_purging", "in_transaction"),
        ("steward.servicedesk.attachments.on_school_purging", "in_transaction"),
        ("steward.servicedesk.copies.on_school_purging", "in_transaction"),
    ]
    assert subscribers(ConsentWithdrawn) == [("steward.servicedesk.copies.on_consent_withdrawn", "in_transaction")]
    assert subscribers(FlowChanged) == [("steward.notices.services.on_flow_changed", "in_transaction")]
    assert subscribers(DataProtectionContactChanged) == [
        ("steward.notices.services.on_contact_changed", "in_transaction")
    ]
    assert subscribers(CatalogueSynced) == [("steward.notices.services.on_catalogue_synced", "in_transaction")]
    assert subscribers(TerminationStarted) == [("steward.notices.services.on_termination_started", "in_transaction")]


def _imported_apps(app: str) -> set[str]:
    """Every steward app a module of `app` imports, at module level or inside a function."""
    found = set()
    for path in (SRC / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "steward" and len(parts) > 1 and parts[1] != app:
                    found.add(parts[1])
    return found


@pytest.mark.parametrize(
    ("app", "above"),
    [
        ("ingest", {"portal", "rights", "retention", "consents", "backoffice", "notices", "api"}),
        ("retention", {"rights", "backoffice", "notices", "portal", "api"}),
        ("rights", {"portal", "backoffice", "api"}),
        ("sharing", {"rights", "retention", "consents", "portal", "backoffice", "notices", "api"}),
    ],
)
def test_a_process_app_does_not_import_the_apps_that_react_to_it(app: str, above: set[str]) -> None:
    assert _imported_apps(app) & above == set()


@pytest.mark.parametrize("app", ["core", "register"])
def test_the_ground_floor_imports_no_other_app_but_core(app: str) -> None:
    """The register's notices, its school-scoped selectors, core's privacy provider and the setup
    command moved up (issue #11); the ground floor names no app above it, not even in a function."""
    assert _imported_apps(app) - {"core"} == set()


def test_tenancy_does_not_call_the_notices() -> None:
    assert "notices" not in _imported_apps("tenancy")
