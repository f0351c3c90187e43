"""The SCIM connector against a real SCIM server (scim2-server) over real HTTP on loopback.

Provider quirks come from `scim_faults`, a WSGI layer in front of that server; `sleep` is a list's
`append`, so a test sees every wait the connector asked for without waiting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from steward.demo import scim_server
from steward.provisioning.connectors.base import Account, AccountRefused, TargetUnavailable
from steward.provisioning.connectors.scim import ScimConnector
from tests.provisioning.scim_faults import Faults

TOKEN = "scim-test-token"


@dataclasses.dataclass
class Directory:
    """A running server, its fault switches, and the waits the connector asked for."""

    server: scim_server.ScimServer
    faults: Faults
    sleeps: list[float]

    def connector(self, **options: Any) -> ScimConnector:
        options.setdefault("sleep", self.sleeps.append)
        return ScimConnector(self.server.url, TOKEN, **options)

    def user(self, remote_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.server.url}/Users/{remote_id}", headers={"Authorization": f"Bearer {TOKEN}"})
        response.raise_for_status()
        return dict(response.json())

    def post_user(self, payload: dict[str, Any]) -> str:
        """An account made in the directory by someone else (the school, before Steward)."""
        response = httpx.post(
            f"{self.server.url}/Users",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **payload},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def _directory(**options: Any) -> Iterator[Directory]:
    faults = Faults()
    server = scim_server.start(token=TOKEN, wrap=faults.wrap, **options)
    try:
        yield Directory(server, faults, [])
    finally:
        server.stop()


@pytest.fixture
def directory() -> Iterator[Directory]:
    yield from _directory()


@pytest.fixture
def connector(directory: Directory) -> Iterator[ScimConnector]:
    connector = directory.connector()
    yield connector
    connector.close()


def account(n: int = 1, **changes: Any) -> Account:
    base = Account(
        external_id=f"staff:{n}",
        user_name=f"siân.o'neill-{n}@school.example",
        login=f"soneill{n}",
        given_name="Siân",
        family_name="O'Neill-Jones",
        display_name="Siân O'Neill-Jones",
        email=f"sian.{n}@school.example",
        kind="staff",
        title="Teacher of Welsh",
    )
    return dataclasses.replace(base, **changes)


def test_create_then_find_by_external_id_writes_every_attribute(connector: ScimConnector, directory: Directory) -> None:
    learner = account(
        7,
        external_id="learner:7",
        kind="learner",
        title="",
        department="Year 7",
        given_name="Zoë",
        family_name="Ó Briain",
    )

    created = connector.create(learner, password="Initial-Pass-1", must_change_password=True)

    stored = directory.user(created.remote_id)
    assert stored["externalId"] == "learner:7"
    assert stored["userName"] == "siân.o'neill-7@school.example"
    assert stored["name"] == {"givenName": "Zoë", "familyName": "Ó Briain"}
    assert stored["displayName"] == "Siân O'Neill-Jones"
    assert stored["emails"] == [{"value": "sian.7@school.example", "type": "work", "primary": True}]
    assert stored["active"] is True
    assert stored["userType"] == "Student"
    assert "title" not in stored
    assert stored["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {"department": "Year 7"}
    assert directory.faults.sent("POST")[0].body["password"] == "Initial-Pass-1"
    found = connector.find(learner)
    assert found is not None
    assert (found.remote_id, found.external_id, found.email, found.active) == (
        created.remote_id,
        "learner:7",
        "sian.7@school.example",
        True,
    )
    assert connector.capabilities.forced_password_change is False


def test_find_falls_back_to_user_name_and_adopts_existing_accounts(
    connector: ScimConnector, directory: Directory
) -> None:
    by_external_id = directory.post_user({"userName": "older.name@school.example", "externalId": "staff:1"})
    by_user_name = directory.post_user({"userName": "siân.o'neill-2@school.example"})

    first = connector.find(account(1))
    second = connector.find(account(2))

    assert first is not None and first.remote_id == by_external_id
    assert second is not None and (second.remote_id, second.external_id) == (by_user_name, "")
    assert connector.find(account(3)) is None
    filters = [r.path for r in directory.faults.sent("GET") if "filter" in r.path]
    assert any("externalId" in f for f in filters) and any("userName" in f for f in filters)


def test_update_patches_only_the_changed_attributes(connector: ScimConnector, directory: Directory) -> None:
    person = account()
    remote_id = connector.create(person, password=None, must_change_password=False).remote_id
    moved = dataclasses.replace(person, family_name="D'Arcy", title="", department="Year 8", login="other")

    connector.update(remote_id, moved, ["family_name", "title", "login"])

    stored = directory.user(remote_id)
    assert stored["name"]["familyName"] == "D'Arcy"
    assert "title" not in stored
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" not in stored  # department not in changed
    (patch,) = directory.faults.sent("PATCH")
    assert patch.body["Operations"] == [
        {"op": "replace", "path": "name.familyName", "value": "D'Arcy"},
        {"op": "remove", "path": "title"},
    ]


def test_disable_and_re_enable_are_patches_of_active(connector: ScimConnector, directory: Directory) -> None:
    person = account()
    remote_id = connector.create(person, password=None, must_change_password=False).remote_id

    connector.update(remote_id, dataclasses.replace(person, active=False), ["active"])
    assert directory.user(remote_id)["active"] is False
    found = connector.find(person)
    assert found is not None and found.active is False

    connector.update(remote_id, person, ["active"])
    assert directory.user(remote_id)["active"] is True
    assert [p.body["Operations"] for p in directory.faults.sent("PATCH")] == [
        [{"op": "replace", "path": "active", "value": False}],
        [{"op": "replace", "path": "active", "value": True}],
    ]


def test_nothing_is_sent_for_changes_scim_does_not_carry(connector: ScimConnector, directory: Directory) -> None:
    remote_id = connector.create(account(), password=None, must_change_password=False).remote_id

    connector.update(remote_id, account(container="OU=Staff"), ["container", "login", "groups"])

    assert directory.faults.sent("PATCH") == []


def test_capitalised_ops_for_providers_that_demand_them(directory: Directory) -> None:
    directory.faults.demand_capitalised_ops = True
    person = account()
    lower = directory.connector()
    remote_id = lower.create(person, password=None, must_change_password=False).remote_id
    with pytest.raises(AccountRefused, match="op must be Add, Replace or Remove"):
        lower.update(remote_id, dataclasses.replace(person, title="Head of Year"), ["title"])

    capitalised = directory.connector(patch_op_case="capitalised")
    capitalised.update(remote_id, dataclasses.replace(person, title="Head of Year"), ["title"])

    assert directory.user(remote_id)["title"] == "Head of Year"
    assert directory.faults.sent("PATCH")[-1].body["Operations"][0]["op"] == "Replace"


def test_delete_twice_is_fine(connector: ScimConnector, directory: Directory) -> None:
    remote_id = connector.create(account(), password=None, must_change_password=False).remote_id

    connector.delete(remote_id)
    connector.delete(remote_id)

    assert connector.find(account()) is None
    assert len(directory.faults.sent("DELETE")) == 1  # the second found it gone when reading its version
    assert (
        httpx.get(f"{directory.server.url}/Users/{remote_id}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        == 404
    )


def test_delete_of_an_unknown_id_without_etags_is_fine() -> None:
    for directory in _directory(etag=False):
        connector = directory.connector()
        connector.delete("no-such-id")
        (delete,) = directory.faults.sent("DELETE")
        assert delete.if_match is None


def test_groups_are_found_or_made_and_members_added_and_removed(connector: ScimConnector, directory: Directory) -> None:
    ids = [connector.create(account(n), password=None, must_change_password=False).remote_id for n in (1, 2, 3)]
    group = connector.ensure_group("Year 7 – Form 7O'N")
    assert connector.ensure_group("Year 7 – Form 7O'N") == group
    assert len([r for r in directory.faults.sent("POST") if r.path.endswith("/Groups")]) == 1

    connector.change_members(group, add=ids)
    connector.change_members(group, remove=[ids[0], ids[2]])
    patches_before = len(directory.faults.sent("PATCH"))
    connector.change_members(group)

    stored = httpx.get(f"{directory.server.url}/Groups/{group}", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert [m["value"] for m in stored["members"]] == [ids[1]]
    assert len(directory.faults.sent("PATCH")) == patches_before == 2
    assert directory.faults.sent("PATCH")[1].body["Operations"] == [
        {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
        {"op": "remove", "path": f'members[value eq "{ids[2]}"]'},
    ]


def test_existing_pages_through_every_account() -> None:
    for directory in _directory():
        connector = directory.connector(page_size=25)
        made = {connector.create(account(n), password=None, must_change_password=False).remote_id for n in range(120)}
        directory.faults.requests.clear()

        listed = [a.remote_id for a in connector.existing()]

        assert sorted(listed) == sorted(made)
        starts = [r.path for r in directory.faults.sent("GET") if r.path.startswith("/v2/Users")]
        listed = "attributes=userName%2CexternalId%2Cemails%2Cactive"  # only what adoption needs
        assert starts == [f"/v2/Users?{listed}&startIndex={s}&count=25" for s in (1, 26, 51, 76, 101)]


def test_a_page_is_no_larger_than_the_providers_max_results() -> None:
    for directory in _directory(max_results=10):
        connector = directory.connector(page_size=100)
        for n in range(12):
            connector.create(account(n), password=None, must_change_password=False)
        directory.faults.requests.clear()

        assert len(list(connector.existing())) == 12
        assert [r.path for r in directory.faults.sent("GET") if r.path.startswith("/v2/Users")] == [
            "/v2/Users?attributes=userName%2CexternalId%2Cemails%2Cactive&startIndex=1&count=10",
            "/v2/Users?attributes=userName%2CexternalId%2Cemails%2Cactive&startIndex=11&count=10",
        ]


def test_429_waits_what_retry_after_asks_then_succeeds(directory: Directory) -> None:
    connector = directory.connector()
    connector.check()
    directory.faults.throttle, directory.faults.retry_after = 2, "7"

    assert connector.find(account()) is None
    assert directory.sleeps == [7.0, 7.0]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("Fri, 01 Jan 2100 00:00:00 GMT", 30.0), ("3600", 30.0), (None, 1.0)],
)
def test_429_retry_after_dates_and_caps(directory: Directory, retry_after: str | None, expected: float) -> None:
    connector = directory.connector(max_wait=30.0)
    connector.check()
    directory.faults.throttle, directory.faults.retry_after = 1, retry_after

    connector.find(account())

    assert directory.sleeps == [expected]


def test_429_for_ever_makes_the_target_unavailable(directory: Directory) -> None:
    connector = directory.connector(max_retries=3)
    connector.check()
    directory.faults.throttle, directory.faults.retry_after = 100, "2"

    with pytest.raises(TargetUnavailable, match="429"):
        connector.find(account())
    assert directory.sleeps == [2.0, 2.0, 2.0]


def test_503_is_retried_with_backoff_then_gives_up(directory: Directory) -> None:
    connector = directory.connector()
    directory.faults.unavailable = 2
    connector.check()
    assert directory.sleeps == [1.0, 2.0]

    directory.faults.unavailable = 100
    with pytest.raises(TargetUnavailable, match="503"):
        connector.create(account(), password=None, must_change_password=False)
    assert directory.sleeps == [1.0, 2.0, 1.0, 2.0, 4.0, 8.0]


def test_wrong_token_is_credentials_refused(directory: Directory) -> None:
    connector = ScimConnector(directory.server.url, "not-the-token", sleep=directory.sleeps.append)

    with pytest.raises(TargetUnavailable, match="credentials refused"):
        connector.check()
    assert directory.sleeps == []


def test_403_is_credentials_refused(connector: ScimConnector, directory: Directory) -> None:
    directory.faults.refuse_credentials = True

    with pytest.raises(TargetUnavailable, match="credentials refused"):
        connector.find(account())


def test_server_down_is_target_unavailable_after_retries(directory: Directory) -> None:
    url = directory.server.url
    directory.server.stop()
    connector = ScimConnector(url, TOKEN, sleep=directory.sleeps.append)

    with pytest.raises(TargetUnavailable, match="cannot reach the directory"):
        connector.check()
    assert directory.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_timeouts_are_target_unavailable(directory: Directory) -> None:
    directory.faults.delay = 0.5
    connector = directory.connector(timeout=0.1, max_retries=1)

    with pytest.raises(TargetUnavailable, match="ReadTimeout"):
        connector.check()
    assert directory.sleeps == [1.0]


def test_conflict_refuses_that_account_only(connector: ScimConnector) -> None:
    connector.create(account(1), password=None, must_change_password=False)
    clash = account(2, user_name=account(1).user_name)

    with pytest.raises(AccountRefused, match="already has an account or group with the same user name") as refused:
        connector.create(clash, password=None, must_change_password=False)
    assert "uniqueness" in str(refused.value)
    assert connector.create(account(3), password=None, must_change_password=False).remote_id


def test_conflict_with_our_own_external_id_is_the_account_we_made(
    connector: ScimConnector, directory: Directory
) -> None:
    # As after a POST that timed out but was made: the retry meets the account it made.
    made = directory.post_user({"userName": account(1).user_name, "externalId": "staff:1"})

    assert connector.create(account(1), password=None, must_change_password=False).remote_id == made


def test_400_for_one_account_carries_the_providers_detail(connector: ScimConnector, directory: Directory) -> None:
    directory.faults.reject_user_names[account(1).user_name] = "userName may not contain an apostrophe"

    with pytest.raises(AccountRefused) as refused:
        connector.create(account(1), password=None, must_change_password=False)

    assert str(refused.value) == (
        "the directory refused the account siân.o'neill-1@school.example (400): "
        "userName may not contain an apostrophe (scimType: invalidValue)"
    )
    assert connector.create(
        account(2, user_name="sian.oneill@school.example"), password=None, must_change_password=False
    )


def test_a_value_scim_cannot_take_is_refused_before_sending(connector: ScimConnector, directory: Directory) -> None:
    with pytest.raises(AccountRefused, match=r"email 'not an address': value is not a valid email address"):
        connector.create(account(email="not an address"), password=None, must_change_password=False)
    assert directory.faults.sent("POST") == []


def test_booleans_sent_back_as_strings(connector: ScimConnector, directory: Directory) -> None:
    person = account()
    remote_id = connector.create(
        dataclasses.replace(person, active=False), password=None, must_change_password=False
    ).remote_id
    directory.faults.stringify_booleans = True
    directory.faults.requests.clear()
    fresh = directory.connector()

    found = fresh.find(person)
    listed = list(fresh.existing())

    assert directory.faults.requests[0].path == "/v2/ServiceProviderConfig"
    assert found is not None and (found.remote_id, found.active) == (remote_id, False)
    assert [a.active for a in listed] == [False]
    fresh.update(remote_id, person, ["active"])
    assert directory.user(remote_id)["active"] == "True"  # through the same provider, still a string


def test_writes_carry_if_match_and_a_412_re_reads_once(connector: ScimConnector, directory: Directory) -> None:
    person = account()
    remote_id = connector.create(person, password=None, must_change_password=False).remote_id
    version = directory.user(remote_id)["meta"]["version"]
    connector.update(remote_id, dataclasses.replace(person, title="Deputy Head"), ["title"])
    assert directory.faults.sent("PATCH")[0].if_match == version

    # Someone else changes the account: Steward's version is stale, the server answers 412.
    other = httpx.patch(
        f"{directory.server.url}/Users/{remote_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Changed elsewhere"}],
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert other.status_code in (200, 204)
    theirs = directory.user(remote_id)["meta"]["version"]
    connector.update(remote_id, dataclasses.replace(person, title="Head"), ["title"])

    patches = directory.faults.sent("PATCH")
    assert len(patches) == 4  # ours, theirs, ours refused 412, ours again after re-reading
    assert patches[2].if_match != theirs
    assert patches[3].if_match == theirs
    assert directory.user(remote_id)["title"] == "Head"
    assert directory.user(remote_id)["displayName"] == "Changed elsewhere"
    connector.delete(remote_id)
    assert directory.faults.sent("DELETE")[0].if_match is not None


def test_without_patch_writes_are_get_and_put() -> None:
    for directory in _directory(patch=False):
        connector = directory.connector()
        person = account()
        remote_id = connector.create(person, password=None, must_change_password=False).remote_id
        connector.update(
            remote_id, dataclasses.replace(person, active=False, department="Year 9"), ["active", "department"]
        )
        group = connector.ensure_group("Staff")
        connector.change_members(group, add=[remote_id])

        stored = directory.user(remote_id)
        assert stored["active"] is False
        assert stored["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {"department": "Year 9"}
        assert stored["name"]["familyName"] == "O'Neill-Jones"  # unchanged attributes kept
        assert directory.faults.sent("PATCH") == []
        assert [r.if_match is not None for r in directory.faults.sent("PUT")] == [True, True]


def test_a_provider_that_refuses_patch_gets_put(connector: ScimConnector, directory: Directory) -> None:
    directory.faults.refuse_patch = True
    person = account()
    remote_id = connector.create(person, password=None, must_change_password=False).remote_id

    connector.update(remote_id, dataclasses.replace(person, title="SENCo"), ["title"])
    connector.update(remote_id, dataclasses.replace(person, title="SENCo", active=False), ["active"])

    assert directory.user(remote_id)["title"] == "SENCo"
    assert directory.user(remote_id)["active"] is False
    assert len(directory.faults.sent("PATCH")) == 1  # tried once, then PUT for the rest
    assert len(directory.faults.sent("PUT")) == 2


def test_filter_values_with_quotes_and_backslashes_are_escaped(connector: ScimConnector, directory: Directory) -> None:
    odd = account(1, external_id='staff:"A\\B"', user_name='jo."quoted"@school.example')
    made = directory.post_user({"userName": "someone.else@school.example", "externalId": 'staff:"A\\B"'})
    directory.post_user({"userName": "decoy@school.example", "externalId": "staff:A"})

    found = connector.find(odd)

    assert found is not None and found.remote_id == made
    assert connector.find(dataclasses.replace(odd, external_id='staff:"A"')) is None


def test_without_filters_accounts_are_found_by_reading_the_list() -> None:
    for directory in _directory(filter=False):
        made = directory.post_user({"userName": "Siân.ONeill@School.example"})
        connector = directory.connector()

        found = connector.find(account(1, user_name="siân.oneill@school.example"))
        group = connector.ensure_group("Staff")

        assert found is not None and found.remote_id == made
        assert connector.ensure_group("Staff") == group
        assert not any("filter" in r.path for r in directory.faults.requests)


def test_update_of_an_account_gone_from_the_directory_is_refused(
    connector: ScimConnector, directory: Directory
) -> None:
    remote_id = connector.create(account(), password=None, must_change_password=False).remote_id
    httpx.delete(f"{directory.server.url}/Users/{remote_id}", headers={"Authorization": f"Bearer {TOKEN}"})

    with pytest.raises(AccountRefused, match=r"^the account .* is not in the directory$"):
        connector.update(remote_id, account(title="Head"), ["title"])
