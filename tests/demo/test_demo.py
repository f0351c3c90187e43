"""`steward demo` end to end: set up, serve over real HTTP, sign in with the printed credentials.

Runs the real command in a subprocess against its own database, then signs in as a school admin
with a password and a TOTP code computed from the credentials file, as a person would.
"""

from __future__ import annotations

import base64
import html
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_otp.oath import totp

from steward.core import database, embedded_db

# Per process: another worktree's test run may be running the demo against the same server.
DB_NAME = f"steward_demo_test_{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """Just enough of a browser: cookies, forms with the CSRF token, no redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)  # noqa: S310 - our own loopback server
        try:
            with self.opener.open(req, timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def submit(self, path: str, fields: dict[str, str], form_page: str = "") -> tuple[int, dict[str, str], str]:
        _, _, page = self.request(form_page or path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no CSRF token on {path}"
        return self.request(path, {"csrfmiddlewaretoken": token.group(1), **fields})


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "STEWARD_DB_NAME": DB_NAME,
        "STEWARD_DEMO_CREDENTIALS": str(tmp_path / "demo-credentials.json"),
        "STEWARD_DEMO_AGENT_DIR": str(tmp_path / "demo-agent"),
        "STEWARD_DEMO_EXPORT_DIR": str(tmp_path / "demo-exports"),
        "STEWARD_DEMO_BACKUP_KEY": str(tmp_path / "demo-backup-key.txt"),
        "STEWARD_BACKUP_DIR": str(tmp_path / "backups"),
        "PYTHONUNBUFFERED": "1",
    }
    database.drop_database(DB_NAME)
    yield env
    database.drop_database(DB_NAME)


def _wait_until_serving(base: str, process: subprocess.Popen[str], seconds: float = 150) -> None:
    # 150 s: before serving, the demo now also takes a backup and restores it into a scratch server to
    # verify it (some 15-25 s on a loaded machine), on top of loading everything else.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "steward demo exited early"
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("the demo did not start serving in time")


def test_make_demo_serves_and_a_school_admin_signs_in_with_the_printed_credentials(
    demo_env: dict[str, str],
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "steward", "demo", "--bind", f"127.0.0.1:{port}"],
        env=demo_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_until_serving(base, process)
        credentials = json.loads(Path(demo_env["STEWARD_DEMO_CREDENTIALS"]).read_text())
        admin = next(u for u in credentials["users"] if u["email"] == "admin@primary.demo-school.invalid")
        browser = Browser(base)
        status, headers, _ = browser.submit("/sign-in/", {"email": admin["email"], "password": admin["password"]})
        assert (status, headers["Location"]) == (302, "/sign-in/verify/")
        code = f"{totp(base64.b32decode(admin['totp_secret'])):06d}"
        status, headers, _ = browser.submit("/sign-in/verify/", {"token": code})
        assert (status, headers["Location"]) == (302, "/")
        status, _, _ = browser.submit("/schools/switch/", {"school": _school_id(browser)}, form_page="/schools/")
        assert status == 302
        status, headers, page = browser.request("/school/register/")
        assert status == 200
        assert "What we process for Meadowbank Primary School" in page
        assert "Art. 6(1)(e) public task" in page
        status, _, page = browser.request("/school/batches/")
        assert status == 200
        assert "Applied" in page and "MIS agent" not in page  # sent by the agent's client id
        status, _, page = browser.request("/school/rights/")
        assert status == 200
        assert "(parent portal)" in page  # the demo parent's request, still to be answered
        status, _, page = browser.request("/school/service-desk/")
        assert status == 200 and "Ask for help" in page  # the demo's tickets are Oakwood's, not Meadowbank's
        la = next(c for c in credentials["recipients"] if c["code"] == "la-attendance")
        with httpx.Client(base_url=base, timeout=20) as http:
            issued = http.post(
                "/oauth/token/",
                data={"grant_type": "client_credentials", "scope": "read"},
                auth=(la["client_id"], la["client_secret"]),
            )
            bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
            schools = http.get("/api/v1/schools", headers=bearer).json()
            assert sorted(s["urn"] for s in schools) == [881001, 881002, 881003]
            marks = http.get("/api/v1/schools/881001/session-attendance?limit=5", headers=bearer).json()
            assert len(marks["records"]) == 5 and marks["more"] is True
            _the_learning_platform_reads_one_schools_roster(http, credentials)
        css_status, css_headers, _ = browser.request("/static/govuk-frontend/govuk-frontend.min.css")
        assert (css_status, css_headers["Content-Type"].split(";")[0]) == (200, "text/css")
        _parents_sign_in_and_see_their_children(base, credentials["parents"])
        _a_school_admin_signs_in_with_the_demo_school_account(base)
        assert credentials["sign_in_url"] == f"{base}/sign-in/"
        _notices_are_published_with_versions(base, credentials["privacy"])
        _the_alerts_pages_list_the_demos_alerts(base, credentials)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Stopped." in output
    if not os.environ.get("DATABASE_URL"):  # the server was the test session's: the demo leaves it running
        assert "Stopped the embedded PostgreSQL" not in output
        assert embedded_db.running_pid() is not None
    assert f"Sign in at {base}/sign-in/" in output and "127.0.0.1:8000" not in output
    assert "admin@primary.demo-school.invalid" in output
    assert 'Sign in with "Demo school (Microsoft 365)" on the sign-in page' in output
    parent_emails = [p["email"] for p in credentials["parents"]["accounts"]]
    assert all(email in output for email in parent_emails)
    assert "Privacy operations:" in output and "/school/rights/" in output
    assert "Monitoring: 3 open alerts (bulk reads hour, impossible travel, password spraying), 1 resolved as " in output
    assert (
        "Backups: 1 copy, verified at " in output
        and f"The Backups page (as Priya Shah): {base}/processor/backups/" in output
    )
    assert (Path(demo_env["STEWARD_DEMO_BACKUP_KEY"]).stat().st_mode & 0o777) == 0o600
    _monitoring_is_in_the_database()
    assert "uv run steward retention preview" in output
    assert "uv run steward pseudonymise --school 881001" in output
    _privacy_operations_are_in_the_database()
    assert "Account provisioning: Riverside Academy synced its staff and pupils to a SCIM directory" in output
    assert (
        "Learning platform (Maths learning app): approved by Riverside Academy, pending at Meadowbank Primary School"
        in output
    )
    manager = credentials["sign_in_app"]["user"]
    delivered = credentials["sign_in_app"]["oneroster_csv"]
    assert delivered["status"] == "succeeded" and int(delivered["records"]) > 0, delivered
    zips = list((Path(demo_env["STEWARD_DEMO_EXPORT_DIR"]) / "learning-app" / "881002").glob("*.zip"))
    assert len(zips) == 1, zips
    with zipfile.ZipFile(zips[0]) as bundle:
        assert {"manifest.csv", "users.csv", "classes.csv", "enrollments.csv"} <= set(bundle.namelist())
    assert f"Try staff sign-in at http://127.0.0.1:{port + 1}/ as {manager['name']}" in output or (
        f"could not listen on 127.0.0.1:{port + 1}" in output
    )
    first_sync = _provisioning_runs()
    refused = _rows("SELECT user_name, detail FROM provisioning_plannedchange WHERE outcome = 'refused' LIMIT 3")
    assert first_sync and first_sync[-1][0] == "succeeded" and first_sync[-1][1] > 0, refused
    counts = _privacy_counts()
    preview = subprocess.run(
        [sys.executable, "-m", "steward", "retention", "preview"],
        env=demo_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "held: 1 row(s) under a legal hold (Insurance claim" in preview.stdout, preview.stdout

    started = time.monotonic()
    again = subprocess.run(
        [sys.executable, "-m", "steward", "demo", "--setup-only"],
        env=demo_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "already loaded (data kept)" in again.stdout
    assert "Sending each school's MIS data" not in again.stdout
    agents = json.loads(Path(demo_env["STEWARD_DEMO_CREDENTIALS"]).read_text())["mis_agents"]
    assert len(agents) == 3
    state = json.loads((Path(demo_env["STEWARD_DEMO_AGENT_DIR"]) / "881001" / "state.json").read_text())
    assert any(entry.get("status") == "applied" for entry in _entries(state))
    assert time.monotonic() - started < 30
    kept = json.loads(Path(demo_env["STEWARD_DEMO_CREDENTIALS"]).read_text())["parents"]
    assert [p["email"] for p in kept["accounts"]] == parent_emails  # not invited again
    assert parent_emails[0] in again.stdout
    assert "Privacy operations:" in again.stdout
    assert "Monitoring: 3 open alerts" in again.stdout
    assert "Backups: 1 copy, verified at " in again.stdout and "Taking a first backup" not in again.stdout
    assert _privacy_counts() == counts  # nothing made twice
    # Each start has a new, empty directory: the same people are synced into it again.
    assert "Account provisioning: Riverside Academy" in again.stdout
    assert _provisioning_runs()[-1] == ("succeeded", first_sync[-1][1])


def _signed_in(base: str, user: dict[str, Any], *, school: bool = True) -> Browser:
    """A browser signed in as a demo user with their password and authenticator (and their school chosen)."""
    browser = Browser(base)
    status, headers, _ = browser.submit("/sign-in/", {"email": user["email"], "password": user["password"]})
    assert (status, headers["Location"]) == (302, "/sign-in/verify/"), user["email"]
    code = f"{totp(base64.b32decode(user['totp_secret'])):06d}"
    status, headers, _ = browser.submit("/sign-in/verify/", {"token": code})
    assert (status, headers["Location"]) == (302, "/"), user["email"]
    if school:
        status, _, _ = browser.submit("/schools/switch/", {"school": _school_id(browser)}, form_page="/schools/")
        assert status == 302
    return browser


def _the_alerts_pages_list_the_demos_alerts(base: str, credentials: dict[str, Any]) -> None:
    """Riverside's DPO sees the school's open alerts and the one resolved as expected; the ICT
    service's administrator sees the spraying among all alerts; the breach page shows the clock."""
    users = {u["email"]: u for u in credentials["users"]}
    riverside = _signed_in(base, users["dpo@secondary.demo-school.invalid"])
    status, _, page = riverside.request("/school/alerts/?status=open")
    assert status == 200
    assert "Signed in from two countries too far apart" in page and "Riverside Business Manager" in page
    assert "Far more records read in an hour than usual" in page and "Riverside Exams Officer" in page
    status, _, page = riverside.request("/school/alerts/?status=resolved_expected")
    assert status == 200 and "Signed in from abroad for the first time" in page
    processor = _signed_in(base, users["priya.shah@demo-county.invalid"], school=False)
    status, _, page = processor.request("/processor/alerts/?status=open")
    assert status == 200 and "Failed sign-ins to many accounts from one network" in page
    breach = credentials["monitoring"]["breach"]["url"]
    assert breach.startswith(base + "/")
    meadowbank = _signed_in(base, users["dpo@primary.demo-school.invalid"])  # the first school listed
    status, _, page = meadowbank.request(breach.removeprefix(base))
    assert status == 200 and "minutes left</strong> to tell the ICO" in page, page[:3000]


def _monitoring_is_in_the_database() -> None:
    """Three open alerts with their evidence, one resolved as expected with a note, one incident with
    its breach record (the exact rules: the demo is loaded here on a weekday or weekend at any hour)."""
    alerts = _rows("SELECT rule, status, cardinality(event_ids), note FROM monitoring_alert ORDER BY id")
    opened = {a[0] for a in alerts if a[1] == "open" and a[2] > 0}
    assert {"password_spraying", "impossible_travel", "bulk_reads_hour"} <= opened, alerts
    assert [(a[0], bool(a[3])) for a in alerts if a[1] == "resolved_expected"] == [("new_country", True)]
    assert [a[0] for a in alerts if a[1] == "resolved_incident"] == ["bulk_reads_hour"]
    assert _rows("SELECT count(*), bool_and(aware_at > now() - interval '72 hours') FROM monitoring_breach") == [
        (1, True)
    ]


def _a_school_admin_signs_in_with_the_demo_school_account(base: str) -> None:
    """ "Sign in with Demo school (Microsoft 365)": the demo's stand-in provider, a second factor ticked."""
    browser = Browser(base)
    _, _, page = browser.request("/sign-in/")
    assert "Sign in with Demo school (Microsoft 365)" in page
    status, headers, _ = browser.request("/sign-in/with/demo-school-m365/")
    assert status == 302
    authorize = headers["Location"]
    with httpx.Client(timeout=20) as idp:
        form_page = idp.get(authorize).text
        fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form_page))
        fields = {name: html.unescape(value) for name, value in fields.items()}
        issuer = authorize.split("/authorize?")[0]
        answer = idp.post(
            f"{issuer}/authorize", data=fields | {"email": "admin@primary.demo-school.invalid", "mfa": "yes"}
        )
    back = urllib.parse.urlsplit(answer.headers["location"])
    status, headers, page = browser.request(f"{back.path}?{back.query}")
    assert (status, headers.get("Location")) == (302, "/"), page[:2000]
    status, _, _ = browser.submit("/schools/switch/", {"school": _school_id(browser)}, form_page="/schools/")
    assert status == 302
    status, _, page = browser.request("/school/register/")
    assert status == 200 and "What we process for Meadowbank Primary School" in page


def _notices_are_published_with_versions(base: str, privacy: dict[str, Any]) -> None:
    """Every notice the demo prints answers, with its versions page; a later version has a diff."""
    later = []
    for school in privacy["notices"]:
        for notice in school["services"]:
            for url in (notice["url"], notice["versions_url"]):
                assert url.startswith(base + "/"), url
                with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310
                    assert response.status == 200, url
            if notice["versions"] >= 2:
                later.append(f"{notice['versions_url']}{notice['versions']}/diff/")
    assert later
    with urllib.request.urlopen(later[0], timeout=20) as response:  # noqa: S310
        assert response.status == 200


def _rows(query: str) -> list[tuple[Any, ...]]:
    with database.connect_owner(DB_NAME) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def _privacy_operations_are_in_the_database() -> None:
    requests = _rows(
        "SELECT kind, status, received_on, COALESCE(extended_deadline, deadline) < current_date, "
        "extended_deadline IS NOT NULL FROM rights_rightsrequest"
    )
    assert {r[0] for r in requests} == {"access", "rectification", "erasure", "restriction", "portability", "objection"}
    assert len({r[1] for r in requests}) >= 4
    assert any(r[3] and r[1] in ("received", "in_progress") for r in requests)  # overdue
    assert any(r[4] for r in requests)  # extended
    assert _rows(
        "SELECT count(*) FROM rights_rightsrequest r JOIN rights_rightsrequestevent e ON e.request_id = r.id "
        "WHERE e.actor_label LIKE 'parent account %'"
    ) == [(1,)]
    assert _rows("SELECT kind, subject_kind FROM retention_legalhold WHERE lifted_at IS NULL") == [
        ("subject", "learner")
    ]
    assert _rows(
        "SELECT count(*) FROM consents_datauseagreement WHERE revoked_at IS NULL "
        "AND starts_on <= current_date AND expires_on >= current_date"
    ) == [(1,)]
    assert _rows("SELECT kind, recipient FROM consents_consent WHERE withdrawn_at IS NULL") == [
        ("standing", "processor")
    ]
    missing = _rows(
        "SELECT o.urn, s.service FROM tenancy_organisation o JOIN tenancy_contract c ON c.school_id = o.id "
        "CROSS JOIN unnest(c.services) AS s(service) WHERE NOT EXISTS (SELECT 1 FROM register_noticeversion v "
        "WHERE v.school_id = o.id AND v.service = s.service AND v.number = 1)"
    )
    assert missing == []
    assert _rows("SELECT count(*) >= 1 FROM register_noticeversion WHERE number = 2") == [(True,)]
    assert _rows("SELECT status, count(*) FROM servicedesk_ticket GROUP BY status ORDER BY status") == [
        ("in_progress", 1),
        ("new", 2),
        ("resolved", 2),
    ]
    breached = "SELECT count(*) FROM servicedesk_ticket WHERE status = 'new' AND resolution_due < now()"
    assert _rows(breached) == [(1,)]  # the demo's one ticket past its service level
    # One past support-access grant, its window closed, and its read list in the audit log.
    assert _rows("SELECT status FROM servicedesk_supportgrant") == [("ended",)]
    assert _rows("SELECT count(*) FROM tenancy_supportwindow WHERE closed_at IS NULL") == [(0,)]
    reads = "SELECT count(*) FROM audit_auditevent WHERE detail->>'support_grant' LIKE 'GRANT-%%'"
    assert _rows(reads) == [(1,)]
    _investigation_copies_are_in_the_database()


def _investigation_copies_are_in_the_database() -> None:
    """One awaiting the school's decision, one live, one destroyed with its proof (dated by the day the
    demo was loaded: the destruction well in the past)."""
    copies = _rows(
        "SELECT c.status, c.schema_name, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = c.schema_name), "
        "c.destroyed_at < now() - interval '20 days', p.run, p.rows, "
        "(SELECT count(*) FROM servicedesk_copiedperson s WHERE s.copy_id = c.id) "
        "FROM servicedesk_investigationcopy c LEFT JOIN retention_retentionproof p ON p.id = c.destruction_proof_id "
        "ORDER BY c.status"
    )
    assert [c[0] for c in copies] == ["destroyed", "live", "requested"], copies
    destroyed, live, requested = copies
    assert destroyed[1] and not destroyed[2] and destroyed[3] is True  # its schema dropped 25 days ago
    assert destroyed[4] == "early" and destroyed[5] > 0 and destroyed[6] > 0  # the proof; who was in it
    assert live[1] and live[2] and live[4] is None and live[6] > 0
    assert requested[1] == "" and requested[6] == 0


def _provisioning_runs() -> list[tuple[Any, ...]]:
    """Each provisioning run's status and how many accounts it created, oldest first."""
    return _rows(
        "SELECT r.status, (SELECT count(*) FROM provisioning_plannedchange c WHERE c.run_id = r.id "
        "AND c.action = 'create' AND c.outcome = 'done') FROM provisioning_provisioningrun r ORDER BY r.id"
    )


def _privacy_counts() -> list[tuple[Any, ...]]:
    return _rows(
        "SELECT (SELECT count(*) FROM rights_rightsrequest), (SELECT count(*) FROM rights_rightsrequestevent), "
        "(SELECT count(*) FROM retention_legalhold), (SELECT count(*) FROM consents_consent), "
        "(SELECT count(*) FROM consents_datauseagreement), (SELECT count(*) FROM consents_marketingpreference), "
        "(SELECT count(*) FROM register_noticeversion), (SELECT count(*) FROM mis_learner), "
        "(SELECT count(*) FROM servicedesk_ticket), (SELECT count(*) FROM servicedesk_investigationcopy), "
        "(SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'investigation\\_%%'), "
        "(SELECT count(*) FROM monitoring_alert), (SELECT count(*) FROM monitoring_breach)"
    )


def _the_learning_platform_reads_one_schools_roster(http: httpx.Client, credentials: dict[str, Any]) -> None:
    """The README's OneRoster calls with the learning app's client: only the school that approved."""
    app = next(c for c in credentials["recipients"] if c["code"] == "learning-app")
    issued = http.post(
        "/oauth/token/",
        data={"grant_type": "client_credentials", "scope": "roster.readonly"},
        auth=(app["client_id"], app["client_secret"]),
    )
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    base = "/ims/oneroster/rostering/v1p2"
    schools = http.get(f"{base}/schools", headers=bearer).json()["orgs"]
    assert [s["identifier"] for s in schools] == ["881002"]  # Riverside approved; Meadowbank has not yet
    students = http.get(
        f"{base}/students",
        params={"limit": "10", "sort": "familyName", "fields": "sourcedId,givenName,familyName,grades"},
        headers=bearer,
    )
    assert students.status_code == 200 and int(students.headers["X-Total-Count"]) > 10
    assert len(students.json()["users"]) == 10 and 'rel="next"' in students.headers["Link"]
    classes = http.get(f"{base}/classes", params={"filter": "dateLastModified>'2020-09-01T00:00:00Z'"}, headers=bearer)
    assert classes.status_code == 200 and classes.json()["classes"]


def _parents_sign_in_and_see_their_children(base: str, parents: dict[str, object]) -> None:
    """At least two registered parents a school, some invited only; each signs in and sees a child."""
    assert parents["portal_url"] == f"{base}/portal/"
    accounts = parents["accounts"]
    assert isinstance(accounts, list)
    by_school: dict[str, int] = {}
    for account in accounts:
        for school in account["schools"]:
            by_school[school] = by_school.get(school, 0) + 1
    assert sorted(by_school) == ["Meadowbank Primary School", "Oakwood Special School", "Riverside Academy"]
    assert min(by_school.values()) >= 2
    assert parents["invited_not_registered"]
    for account in accounts:
        assert account["children"], account
        browser = Browser(base)
        status, headers, _ = browser.submit(
            "/portal/sign-in/", {"email": account["email"], "password": account["password"]}
        )
        assert (status, headers["Location"]) == (302, "/portal/"), account["email"]
        status, _, page = browser.request("/portal/")
        assert status == 200
        assert all(html.escape(child) in page for child in account["children"]), (account, page[:3000])
    # Lesson attendance is left switched off, so the demo shows the switch.
    status, _, page = browser.request("/portal/")
    child = re.search(r'href="/portal/children/(\d+)/"', page)
    assert child, page[:3000]
    assert browser.request(f"/portal/children/{child.group(1)}/homework/")[0] == 200
    assert browser.request(f"/portal/children/{child.group(1)}/lessons/")[0] == 404


def _school_id(browser: Browser) -> str:
    _, _, page = browser.request("/schools/")
    found = re.search(r'name="school" type="radio" value="(\d+)"', page)
    assert found, page[:2000]
    return found.group(1)


def _entries(state: dict[str, object]) -> list[dict[str, object]]:
    """The agent's state file: one entry per file hash."""
    files = state.get("files", state)
    assert isinstance(files, dict)
    return [e for e in files.values() if isinstance(e, dict)]
