"""Read replicas (`core.replicas`) against a real hot standby of the test session's embedded server.

The standby is built once for the module with the embedded server's own binaries
(`pg_basebackup -R`: a copy of the running cluster that streams its WAL from it) and listens on a
free loopback port. Whether a read came from it is proven by what only it holds: its replay is
paused (`pg_wal_replay_pause()`), the primary changes a row, and the standby still shows the old one.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import time_machine
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.actor import Actor
from steward.core import database, embedded_db, replicas
from steward.core.listing import csv_download
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.register.models import ProcessingActivity, Recipient
from steward.retention.backups import postgres
from steward.rostering import cache
from steward.sharing import services
from steward.sharing.models import DataFlow
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.conftest import TEST_DB, steward_server
from tests.ingest import builders as b
from tests.notify_fixtures import SmtpSink
from tests.portal import families as family
from tests.rostering import conftest as roster
from tests.sharing.conftest import request_flow
from tests.sharing.test_api import bearer  # noqa: F401 - a recipient's real token, as the API tests get it


@dataclass
class Standby:
    datadir: Path
    port: int

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """A query as the standby's superuser (who may pause and resume its replay)."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=embedded_db.SUPERUSER, dbname=TEST_DB, autocommit=True
        ) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def pause(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")
        _until(lambda: self.sql("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused", "replay to pause")

    def resume(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def catch_up(self) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        position = _primary("SELECT pg_current_wal_lsn()::text")[0][0]
        _until(
            lambda: self.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position])[0][0],
            "the standby to catch up",
        )

    def receive_ahead(self) -> None:
        """Wait until the standby has received WAL it has not replayed (replay being paused)."""
        position = _primary("SELECT pg_current_wal_lsn()::text")[0][0]
        _until(
            lambda: self.sql("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", [position])[0][0],
            "the standby to receive the primary's WAL",
        )


def _primary(query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """A query on the primary as its owner, outside Django (committed at once, no scope needed)."""
    env = postgres.source_env()
    env["PGDATABASE"] = TEST_DB
    with postgres.connect(env) as conn:
        cursor = conn.execute(query, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def _until(done: Callable[[], Any], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _as_server_user() -> dict[str, Any]:
    return {"user": embedded_db.SYSTEM_USER} if os.geteuid() == 0 else {}


def _run(program: str, *args: str) -> None:
    result = subprocess.run(  # noqa: S603 - the embedded server's own program, our arguments
        [str(postgres.bin_path(program)), *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        cwd="/",
        **_as_server_user(),
    )
    assert result.returncode == 0, f"{program} failed: {result.stderr or result.stdout}"


@pytest.fixture(scope="module")
def standby(django_db_setup: None) -> Iterator[Standby]:
    """A hot standby of the session's embedded server, streaming from it over its socket."""
    source = postgres.source_env()
    datadir = Path(tempfile.mkdtemp(prefix="steward-standby-"))
    if _as_server_user():
        shutil.chown(datadir, user=embedded_db.SYSTEM_USER)
    os.chmod(datadir, 0o700)
    port = postgres.free_port()
    _run("pg_basebackup", "-D", str(datadir), "-R", "-X", "stream", "-c", "fast",
         "-h", source["PGHOST"], "-U", source["PGUSER"])  # fmt: skip
    with (datadir / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\nhot_standby = on\n")
    _run("pg_ctl", "-D", str(datadir), "-l", str(datadir / "standby.log"), "-w", "-t", "60", "start")
    server = Standby(datadir, port)
    try:
        assert server.sql("SELECT pg_is_in_recovery()") == [(True,)]
        yield server
    finally:
        _run("pg_ctl", "-D", str(datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture
def replica(standby: Standby, committed_db: None, settings: SettingsWrapper) -> Iterator[Standby]:
    """`replica_0` names the standby, as `DATABASE_REPLICA_URLS` would; lag allowed: an hour."""
    settings.STEWARD_REPLICA_MAX_LAG_SECONDS = 3600
    _add_replica("replica_0", standby.port)
    replicas.forget_health()
    try:
        yield standby
    finally:
        standby.resume()
        _remove_replicas()
        replicas.forget_health()


def _add_replica(alias: str, port: int) -> None:
    """Add a replica alias to the running process, as `DATABASE_REPLICA_URLS` adds one at start-up."""
    default = connections["default"].settings_dict
    entry = database.replica_settings(dict(default), f"postgresql://127.0.0.1:{port}/{TEST_DB}")["replica_0"]
    connections.settings[alias] = connections.configure_settings({"default": dict(default), alias: entry})[alias]


def _remove_replicas() -> None:
    for alias in replicas.aliases():
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def _school_with_learners(name: str) -> Organisation:
    school = factories.school(name, services_=("hosted_mis", "data_exchange"))
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="test"
    )
    return school


def _rename_on_primary(school: Organisation, name: str) -> None:
    _primary("UPDATE tenancy_organisation SET name = %s WHERE id = %s", [name, school.id])


def test_a_read_in_the_block_is_served_by_the_replica_and_one_outside_by_the_primary(replica: Standby) -> None:
    school = factories.school("Willow Primary")
    replica.catch_up()
    replica.pause()
    _rename_on_primary(school, "Willow Primary (renamed)")

    with replicas.reading_from_replica():
        assert replicas.read_alias() == "replica_0"
        assert Organisation.objects.get(pk=school.pk).name == "Willow Primary"  # only the standby has it
        with connections[replicas.read_alias()].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            assert cursor.fetchone() == (True,)
    assert Organisation.objects.get(pk=school.pk).name == "Willow Primary (renamed)"


def test_row_level_security_holds_on_the_replica(replica: Standby) -> None:
    a, b_school = _school_with_learners("School A"), _school_with_learners("School B")
    replica.catch_up()
    on_standby = replica.sql("SELECT school_id, count(*) FROM mis_learner GROUP BY school_id ORDER BY school_id")
    assert [row[0] for row in on_standby] == sorted([a.id, b_school.id])  # both schools' rows are there

    with replicas.reading_from_replica():
        assert replicas.read_alias() == "replica_0"
        with tenant_scope([a.id]):
            assert {learner.school_id for learner in Learner.objects.all()} == {a.id}
            # The manager's filter left out: the replica's row-level security alone answers.
            with connections["replica_0"].cursor() as cursor:
                cursor.execute("SELECT DISTINCT school_id FROM mis_learner")
                assert cursor.fetchall() == [(a.id,)]
                cursor.execute("SELECT count(*) FROM mis_learner WHERE school_id = %s", [b_school.id])
                assert cursor.fetchone() == (0,)
        # Outside every scope the replica shows no school's rows, as the primary does.
        with connections["replica_0"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM mis_learner")
            assert cursor.fetchone() == (0,)
        with tenant_scope([b_school.id]), connections["replica_0"].cursor() as cursor:
            cursor.execute("SELECT DISTINCT school_id FROM mis_learner")
            assert cursor.fetchall() == [(b_school.id,)]


def test_a_replica_lagging_more_than_the_setting_is_skipped_and_used_again_once_caught_up(
    replica: Standby, settings: SettingsWrapper
) -> None:
    school = factories.school("Willow Primary")
    replica.catch_up()
    replica.pause()
    _rename_on_primary(school, "Willow Primary (renamed)")
    replica.receive_ahead()  # the standby knows it is behind: received, not replayed
    settings.STEWARD_REPLICA_MAX_LAG_SECONDS = 0
    replicas.forget_health()

    with replicas.reading_from_replica():
        assert replicas.read_alias() == "default"
        assert Organisation.objects.get(pk=school.pk).name == "Willow Primary (renamed)"

    replica.resume()
    replica.catch_up()
    replicas.forget_health()
    with replicas.reading_from_replica():
        assert replicas.read_alias() == "replica_0"  # caught up: no lag at all, even with 0 allowed
        assert Organisation.objects.get(pk=school.pk).name == "Willow Primary (renamed)"


def test_an_unreachable_replica_is_skipped(replica: Standby) -> None:
    _add_replica("replica_1", postgres.free_port())  # nothing listens there
    replicas.forget_health()
    with replicas.reading_from_replica():
        chosen = {replicas.read_alias()}
    for _ in range(3):
        with replicas.reading_from_replica():
            chosen.add(replicas.read_alias())
    assert chosen == {"replica_0"}
    _remove_replicas()
    _add_replica("replica_1", postgres.free_port())
    replicas.forget_health()
    with replicas.reading_from_replica():
        assert replicas.read_alias() == "default"


def test_a_write_in_the_block_goes_to_the_primary_and_the_block_then_reads_its_own_write(replica: Standby) -> None:
    school = factories.school("Willow Primary")
    replica.catch_up()
    replica.pause()

    with replicas.reading_from_replica():
        assert Organisation.objects.get(pk=school.pk).name == "Willow Primary"
        assert replicas.read_alias() == "replica_0"
        Organisation.objects.filter(pk=school.pk).update(name="Oak Primary")
        assert replicas.read_alias() == "default"
        assert Organisation.objects.get(pk=school.pk).name == "Oak Primary"
    assert _primary("SELECT name FROM tenancy_organisation WHERE id = %s", [school.id]) == [("Oak Primary",)]
    assert replica.sql("SELECT name FROM tenancy_organisation WHERE id = %s", [school.id]) == [("Willow Primary",)]


def test_a_browser_that_wrote_is_pinned_to_the_primary_for_longer_than_a_replica_may_lag(replica: Standby) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        with replicas.reading_from_replica():
            return HttpResponse(replicas.read_alias())

    middleware = replicas.PinToPrimaryMiddleware(view)
    factory = RequestFactory()
    assert middleware(factory.get("/")).content == b"replica_0"
    posted = middleware(factory.post("/"))
    assert posted.content == b"default"
    cookie = posted.cookies[replicas.PIN_COOKIE]
    assert int(cookie["max-age"]) == replicas.pin_seconds() > 3600
    pinned = factory.get("/")
    pinned.COOKIES[replicas.PIN_COOKIE] = cookie.value
    assert middleware(pinned).content == b"default"
    assert replicas.PIN_COOKIE not in middleware(factory.get("/")).cookies  # a read sets no pin


@pytest.fixture
def approved(replica: Standby) -> tuple[Organisation, DataFlow]:
    school = _school_with_learners("Willow Primary")
    flow = request_flow(
        school, Recipient.objects.get(code="la-attendance"), ProcessingActivity.objects.get(service="data_exchange")
    )
    with tenant_scope([school.id]):
        flow = services.flow_approve(
            flow=flow, actor=Actor.system("DPO"), fields=["learners.legal_forename", "learners.legal_surname"]
        )
    return school, flow


def test_the_recipient_api_reads_records_from_the_replica_and_logs_the_disclosure_on_the_primary(
    replica: Standby,
    approved: tuple[Organisation, DataFlow],
    client: Client,
    bearer: str,  # noqa: F811
) -> None:
    school, _ = approved
    replica.catch_up()
    replica.pause()
    learner_id, surname = _primary(
        "SELECT id, legal_surname FROM mis_learner WHERE school_id = %s ORDER BY id LIMIT 1", [school.id]
    )[0]
    _primary("UPDATE mis_learner SET legal_surname = 'Changed-On-Primary' WHERE id = %s", [learner_id])

    url, auth = f"/api/v1/schools/{school.urn}/learners", f"Bearer {bearer}"

    # The token was just issued by a POST from this client: its cookie pins it to the primary.
    assert replicas.PIN_COOKIE in client.cookies
    pinned = client.get(url, HTTP_AUTHORIZATION=auth)
    assert "Changed-On-Primary" in {r["legal_surname"] for r in pinned.json()["records"]}

    del client.cookies[replicas.PIN_COOKIE]
    response = client.get(url, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content
    surnames = {r["legal_surname"] for r in response.json()["records"]}
    assert surname in surnames and "Changed-On-Primary" not in surnames  # the replica's rows
    assert replicas.PIN_COOKIE not in response.cookies
    logged = _primary("SELECT record_count FROM sharing_disclosure WHERE school_id = %s ORDER BY id", [school.id])
    assert logged == [(len(pinned.json()["records"]),), (len(response.json()["records"]),)]  # on the primary
    assert replica.sql("SELECT count(*) FROM sharing_disclosure") == [(0,)]  # replay is paused

    # The same read with replicas off reads the primary's row.
    _remove_replicas()
    again = client.get(url, HTTP_AUTHORIZATION=auth)
    assert "Changed-On-Primary" in {r["legal_surname"] for r in again.json()["records"]}


def test_oneroster_reads_the_replica_once_it_has_replayed_what_the_rosters_key_was_read_at(
    replica: Standby, client: Client
) -> None:
    with time_machine.travel(roster.TODAY, tick=True):
        school = roster.make_school("Willow Academy")
        roster.approve(school, "learning-app")
        token = roster.bearer_for(client, "learning-app")
        del client.cookies[replicas.PIN_COOKIE]  # the token's POST pinned this client
        cache.forget()
        replica.catch_up()
        with CaptureQueriesContext(connections["replica_0"]) as on_replica:
            response = roster.get(client, token, "students")
        assert response.status_code == 200, response.content
        assert {u["givenName"] for u in response.json()["users"]} == {"Ames", "Zoe", "Ben"}
        assert any("mis_learner" in q["sql"] for q in on_replica.captured_queries)

        # Behind the primary (replay paused after a change): the roster is read from the primary.
        replica.pause()
        _primary("UPDATE mis_learner SET legal_forename = 'Benjamin' WHERE legal_forename = 'Ben'")
        cache.forget()
        with CaptureQueriesContext(connections["replica_0"]) as on_replica:
            response = roster.get(client, token, "students")
        assert {u["givenName"] for u in response.json()["users"]} == {"Ames", "Zoe", "Benjamin"}
        assert not any("mis_learner" in q["sql"] for q in on_replica.captured_queries)


def test_a_real_server_given_database_replica_urls_answers_the_recipient_api_from_the_standby(
    replica: Standby,
    approved: tuple[Organisation, DataFlow],
    client: Client,
    bearer: str,  # noqa: F811
    smtp_sink_server: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    school, _ = approved
    replica.catch_up()
    replica.pause()
    learner_id, surname = _primary(
        "SELECT id, legal_surname FROM mis_learner WHERE school_id = %s ORDER BY id LIMIT 1", [school.id]
    )[0]
    _primary("UPDATE mis_learner SET legal_surname = 'Changed-On-Primary' WHERE id = %s", [learner_id])
    monkeypatch.setenv("DATABASE_REPLICA_URLS", f"postgresql://127.0.0.1:{replica.port}/{TEST_DB}")
    monkeypatch.setenv("STEWARD_REPLICA_MAX_LAG_SECONDS", "3600")

    with steward_server(smtp_sink_server, "--workers", "1") as url:
        response = requests.get(
            f"{url}/api/v1/schools/{school.urn}/learners", headers={"Authorization": f"Bearer {bearer}"}, timeout=30
        )
    assert response.status_code == 200, response.text
    surnames = {r["legal_surname"] for r in response.json()["records"]}
    assert surname in surnames and "Changed-On-Primary" not in surnames  # the standby's rows, over HTTP
    assert _primary("SELECT count(*) FROM sharing_disclosure WHERE school_id = %s", [school.id]) == [(1,)]


def test_a_portal_page_reads_the_replica_but_who_is_signed_in_is_read_from_the_primary(replica: Standby) -> None:
    school = factories.school("Rowan Primary")
    enrolment = {"entry_date": "2022-09-01", "enrolment_status": "C", "year_group": "4"}
    family.send(
        school,
        {
            "learners": [b.learner("L1", preferred_forename="Sam")],
            "contacts": [b.contact("C1")],
            "learner-contacts": [b.link("LC1", "L1", "C1")],
            "school-enrolments": [{"source_id": "E1", "learner_source_id": "L1", **enrolment}],
        },
        mode="full",
    )
    family.registered_parent(school, "C1")
    parent = Client()
    family.portal_sign_in(parent, "alex@example.invalid")
    assert replicas.PIN_COOKIE in parent.cookies  # signing in pinned this browser
    del parent.cookies[replicas.PIN_COOKIE]
    replica.catch_up()
    replica.pause()
    _primary("UPDATE mis_learner SET preferred_forename = 'Samantha' WHERE school_id = %s", [school.id])

    home = parent.get("/portal/")
    assert home.status_code == 200
    assert "Sam" in home.content.decode() and "Samantha" not in home.content.decode()  # the standby's row

    _primary("DELETE FROM django_session")  # every session ended (on the primary only: replay is paused)
    assert replica.sql("SELECT count(*) FROM django_session")[0][0] > 0
    after = parent.get("/portal/")
    assert after.status_code == 302 and after["Location"].startswith("/portal/sign-in/")


def test_an_export_streamed_after_the_view_returned_reads_the_replica(replica: Standby) -> None:
    school = factories.school("Willow Primary")
    replica.catch_up()
    replica.pause()
    _rename_on_primary(school, "Willow Primary (renamed)")

    def lines() -> Iterator[str]:  # as the exports' generators do: read while the response streams
        for name in Organisation.objects.filter(pk=school.pk).values_list("name", flat=True):
            yield f"{name}\n"

    response = csv_download(lines(), "schools.csv")
    assert b"".join(response.streaming_content) == b"Willow Primary\n"  # type: ignore[arg-type]
    assert Organisation.objects.get(pk=school.pk).name == "Willow Primary (renamed)"  # the view's own reads
