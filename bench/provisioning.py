"""Provisioning benchmark: the benchmark LA's staff and learners synced to a SCIM directory by real
provisioning runs, against the floor, a minimal loop of direct HTTP calls sending the same operations.

Runs on the database `bench/ingest.py` loaded (`make bench` runs that first). Each school gets an
approved rostering flow and a SCIM target; all targets point at one scim2-server on loopback
(`steward.demo.scim_server`), each school under its own domain. Measured in this one run:
- the floor: for the same accounts, one bare POST per user, then one PATCH per group adding all of
  its members, one request at a time, against a new, empty server;
- Steward's first sync: for each school, a plan (MIS read, names, one listing of the directory to
  adopt existing accounts) and its application (creates, group memberships, records, disclosures);
- the nightly delta with nothing changed: plan and apply again, and count the users and groups whose
  version the directory changed (the target is none).

Each directory is scim2-server in a process of its own (a directory is another machine), so its
work runs beside Steward's rather than taking turns with it for this process's interpreter lock.

Usage: python bench/provisioning.py [--schools N]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
# The bench's SCIM directories listen on loopback: approved as a processor approves a private host.
os.environ.setdefault("STEWARD_OUTBOUND_ALLOWED_PRIVATE", "127.0.0.1")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402

from steward.audit.actor import Actor  # noqa: E402
from steward.core.sealed import seal  # noqa: E402
from steward.provisioning import services  # noqa: E402
from steward.provisioning.models import PlannedChange, ProvisioningRun, ProvisioningTarget  # noqa: E402
from steward.register.models import ProcessingActivity, Recipient  # noqa: E402
from steward.sharing import services as sharing  # noqa: E402
from steward.tenancy.models import Organisation  # noqa: E402
from steward.tenancy.scope import estate_scope, tenant_scope  # noqa: E402

TOKEN = "bench-scim-token"  # noqa: S105 - for the loopback servers this bench starts
ACTOR = Actor.system("bench")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CATEGORIES = ["learner.identity", "learner.enrolment", "learner.groups", "staff.identity", "staff.assignment"]


@contextmanager
def directory() -> Iterator[str]:
    """A new, empty scim2-server in its own process (as a directory is another machine: its work
    does not share this process's interpreter lock); its SCIM base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module  # nosec B603
        [sys.executable, "-m", "steward.demo.scim_server", "--port", str(port)],
        env={**os.environ, "STEWARD_SCIM_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v2"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/ServiceProviderConfig", headers=AUTH, timeout=2).raise_for_status()
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit("the SCIM server did not start")
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def versions(url: str) -> dict[str, str]:
    """Every user's and group's version (or last modification) as the directory reports it."""
    seen: dict[str, str] = {}
    for resource in ("Users", "Groups"):
        start = 1
        while True:
            page = httpx.get(f"{url}/{resource}", params={"startIndex": start, "count": 500}, headers=AUTH, timeout=60)
            page.raise_for_status()
            found = page.json().get("Resources", [])
            for r in found:
                meta = r.get("meta", {})
                seen[r["id"]] = str(meta.get("version") or meta.get("lastModified"))
            start += len(found)
            if not found or start > page.json().get("totalResults", 0):
                break
    return seen


def targets(schools: list[Organisation], url: str) -> list[ProvisioningTarget]:
    """An approved rostering flow and a SCIM target per school (made again on every run)."""
    made = []
    activity = ProcessingActivity.objects.get(service="rostering")
    recipient = Recipient.objects.get(code="microsoft-365")
    for school in schools:
        with tenant_scope([school.id]):
            for old in ProvisioningTarget.objects.filter(name="bench"):
                PlannedChange.objects.filter(run__target=old).delete()
                old.delete()
            flow = sharing.flow_request(
                school=school,
                recipient=recipient,
                activity=activity,
                purpose="Accounts for staff and pupils (benchmark)",
                lawful_basis="6.1.e",
                categories=CATEGORIES,
                actor=ACTOR,
            )
            sharing.flow_approve(flow=flow, actor=ACTOR)
            made.append(
                ProvisioningTarget.objects.create(
                    school=school,
                    flow=flow,
                    name="bench",
                    kind="scim",
                    endpoint=url,
                    credential=seal(TOKEN),
                    domain=f"{school.urn}.example",
                    brake_percent=100,
                )
            )
    return made


PLANNING: list[float] = []


def run_all(made: list[ProvisioningTarget], trigger: str) -> tuple[float, list[ProvisioningRun]]:
    started = time.perf_counter()
    runs = []
    for target in made:
        planning = time.perf_counter()
        run = services.plan_make(target=target, trigger=trigger, actor=ACTOR)
        PLANNING.append(time.perf_counter() - planning)
        runs.append(services.run_apply(run=run, actor=ACTOR))
    return time.perf_counter() - started, runs


def floor(made: list[ProvisioningTarget], runs: list[ProvisioningRun]) -> tuple[float, int]:
    """The same users and group memberships as the first sync, sent by a bare loop to a new server."""
    desired: list[dict[str, Any]] = []
    for target, run in zip(made, runs, strict=True):
        with tenant_scope([target.school_id]):
            desired += [
                {**c.desired, "_school": target.school_id}
                for c in PlannedChange.objects.filter(run=run, action="create").order_by("position")
            ]
    with directory() as url, httpx.Client(base_url=url, headers=AUTH) as client:
        started = time.perf_counter()
        members: dict[tuple[int, str], list[str]] = {}
        for d in desired:
            answer = client.post(
                "/Users",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "externalId": d["external_id"],
                    "userName": d["user_name"],
                    "name": {"givenName": d["given_name"], "familyName": d["family_name"]},
                    "displayName": d["display_name"],
                    "emails": [{"value": d["email"], "type": "work", "primary": True}],
                    "active": True,
                },
            )
            answer.raise_for_status()
            for group in d["groups"]:
                members.setdefault((d["_school"], group), []).append(answer.json()["id"])
        for (school_id, group), ids in members.items():
            made_group = client.post(
                "/Groups",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": f"{school_id} {group}",
                },
            )
            made_group.raise_for_status()
            client.patch(
                f"/Groups/{made_group.json()['id']}",
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}],
                },
            ).raise_for_status()
        return time.perf_counter() - started, len(desired)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=0, help="how many of the benchmark LA's schools (0: all)")
    args = parser.parse_args(argv)
    with estate_scope():
        schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("urn"))
    if args.schools:
        schools = schools[: args.schools]
    if not schools:
        sys.exit("no schools in the benchmark database: run bench/ingest.py first")
    with directory() as url:
        made = targets(schools, url)
        first_seconds, first_runs = run_all(made, "manual")
        first_planning = sum(PLANNING)
        created = sum(r.counts.get("create", 0) for r in first_runs)
        failed = [r.error for r in first_runs if r.status != "succeeded"]
        if failed:
            sys.exit(f"the first sync did not succeed: {failed[0]}")
        before = versions(url)
        delta_seconds, delta_runs = run_all(made, "nightly")
        after = versions(url)
        delta_writes = sum(1 for rid, version in after.items() if before.get(rid) != version)
        delta_changes = sum(sum(r.counts.values()) for r in delta_runs)
    floor_seconds, floor_accounts = floor(made, first_runs)
    print()
    print(f"{len(schools)} schools, {created:,} accounts (staff and learners)")
    print(
        "first sync changes:",
        {a: sum(r.counts.get(a, 0) for r in first_runs) for a in ("create", "adopt", "update", "move")},
    )
    print(f"{'measure':<62}{'accounts':>10}{'seconds':>10}{'accounts/s':>12}{'x floor time':>14}")
    label = "floor: bare POST per user + one PATCH per group"
    print(f"{label:<62}{floor_accounts:>10,}{floor_seconds:>10.2f}{floor_accounts / floor_seconds:>12,.0f}{1:>14.2f}")
    label = "Steward first sync (plan + apply, records, disclosures)"
    ratio = first_seconds / floor_seconds
    print(f"{label:<62}{created:>10,}{first_seconds:>10.2f}{created / first_seconds:>12,.0f}{ratio:>14.2f}")
    label = "Steward nightly delta, nothing changed"
    print(f"{label:<62}{created:>10,}{delta_seconds:>10.2f}{created / delta_seconds:>12,.0f}{'':>14}")
    print(
        f"\nnightly delta: {delta_changes} changes planned, {delta_writes} of {len(after):,} users and groups "
        "changed in the directory (target: 0)"
    )
    print(f"of the first sync, planning (MIS reads, names, one listing of the directory): {first_planning:.2f} s")
    print(f"first sync target: within 2 x the floor's time: {'met' if ratio <= 2 else 'NOT met'} ({ratio:.2f} x)")


if __name__ == "__main__":
    main()
