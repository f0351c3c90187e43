"""SCIM provisioning benchmark: a first sync of N accounts through `ScimConnector` (a filter lookup by
externalId, another by userName, then a create, for each account: what a first sync that adopts
existing accounts costs) against the floor, a minimal loop of direct httpx POSTs of the same users.

Both run in this process against their own new, empty scim2-server on loopback
(`steward.demo.scim_server`), one after the other, so the ratio compares the connector with the
least any client could do against the same server; the server's own time is in both. No database.

Usage: python bench/provisioning_scim.py [--accounts 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from steward.demo import scim_server  # noqa: E402
from steward.provisioning.connectors.base import Account  # noqa: E402
from steward.provisioning.connectors.scim import ScimConnector  # noqa: E402

TOKEN = "bench-scim-token"  # noqa: S105 - for the loopback servers this bench starts
GIVEN = ["Siân", "Zoë", "Seán", "Amélie", "Jo", "Chloé", "Dafydd", "Aoife"]
FAMILY = ["O'Neill", "Smith-Jones", "Ó Briain", "D'Arcy", "Nguyễn", "Brown", "Kowalski", "Ali"]


def accounts(n: int) -> list[Account]:
    """N learners with the names a school has (apostrophes, hyphens, diacritics)."""
    made = []
    for i in range(n):
        given, family = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
        made.append(
            Account(
                external_id=f"learner:{i:06d}",
                user_name=f"{i:06d}.pupil@school.example",
                login=f"p{i:06d}",
                given_name=given,
                family_name=family,
                display_name=f"{given} {family}",
                email=f"{i:06d}.pupil@school.example",
                kind="learner",
                department=f"Year {7 + i % 5}",
            )
        )
    return made


def connector_sync(people: list[Account]) -> tuple[float, int]:
    """Seconds for find + create of every account through the connector; accounts created."""
    server = scim_server.start(token=TOKEN)
    connector = ScimConnector(server.url, TOKEN)
    try:
        connector.check()
        started = time.perf_counter()
        created = 0
        for person in people:
            if connector.find(person) is None:
                connector.create(person, password=None, must_change_password=False)
                created += 1
        seconds = time.perf_counter() - started
    finally:
        connector.close()
        server.stop()
    return seconds, created


def direct_posts(people: list[Account]) -> tuple[float, int]:
    """Seconds for one bare POST per account (no lookup, no checks): the floor."""
    server = scim_server.start(token=TOKEN)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            started = time.perf_counter()
            for person in people:
                response = client.post(
                    "/Users",
                    json={
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "externalId": person.external_id,
                        "userName": person.user_name,
                        "name": {"givenName": person.given_name, "familyName": person.family_name},
                        "displayName": person.display_name,
                        "emails": [{"value": person.email, "type": "work", "primary": True}],
                        "active": True,
                    },
                )
                response.raise_for_status()
            seconds = time.perf_counter() - started
    finally:
        server.stop()
    return seconds, len(people)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=2000)
    args = parser.parse_args(argv)
    people = accounts(args.accounts)
    base_seconds, base_count = direct_posts(people)
    seconds, created = connector_sync(people)
    if created != len(people):
        sys.exit(f"the connector created {created} of {len(people)} accounts")
    base_rate, rate = base_count / base_seconds, created / seconds
    print()
    print(f"{'measure':<58}{'accounts':>10}{'seconds':>10}{'accounts/s':>12}{'vs POSTs':>10}")
    label = "direct httpx POST per account (floor)"
    print(f"{label:<58}{base_count:>10,}{base_seconds:>10.2f}{base_rate:>12,.0f}{1:>10.2f}")
    label = "ScimConnector first sync (find x2 + create per account)"
    print(f"{label:<58}{created:>10,}{seconds:>10.2f}{rate:>12,.0f}{rate / base_rate:>10.2f}")
    print("\nthe connector sends three requests an account (two filter lookups, one POST), the floor one")


if __name__ == "__main__":
    main()
