"""steward-agent against a real Steward server: sent once, rejected once, retried, scheduled.

The network between school and Steward is the only thing faked (a tiny HTTP server that
fails, or forwards to the real server); the agent's own clock is injected so waits are fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import random
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from steward.agent import cli
from steward.agent.client import backoff_delay, retry_after_seconds
from steward.agent.config import ConfigError, Folder, Retry, load_config
from steward.agent.runner import candidates, run_once
from steward.agent.schedule import Every, Nightly, ScheduleError, Weekly, next_run, parse_schedule
from steward.agent.state import Entry, State, StateError
from steward.ingest.models import IngestBatch
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.ingest import builders as b

LONDON = ZoneInfo("Europe/London")
TOKEN, UPLOAD = "/oauth/token/", "/api/v1/ingest/batches"


@pytest.fixture(autouse=True)
def _agent_logger() -> Iterator[None]:
    """cli.main attaches handlers to the agent's logger; detach them so tests stay independent."""
    logger = logging.getLogger("steward.agent")
    yield
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.NOTSET)


# -- helpers ------------------------------------------------------------------------------------


def write_config(tmp_path: Path, server: str, client_id: str = "id", secret: str = "secret", **extra: Any) -> Path:  # noqa: S107
    (tmp_path / "exports").mkdir(exist_ok=True)
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    settings: dict[str, Any] = {
        "server": server,
        "client_id": client_id,
        "client_secret_file": "secret",
        "watch": "exports",
        "mode": "full",
        "state": "state/state.json",
        "settle_seconds": 30,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
        "backoff_jitter": 0,
        **extra,
    }
    path = tmp_path / "agent.toml"
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    return path


def drop(tmp_path: Path, name: str, data: bytes, *, age: float = 3600) -> str:
    """A file the MIS wrote `age` seconds ago; returns its SHA-256."""
    path = tmp_path / "exports" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    written = path.stat().st_mtime - age
    os.utime(path, (written, written))
    return hashlib.sha256(data).hexdigest()


def mis_agent(secret_override: str | None = None) -> tuple[Organisation, str, str]:
    school = factories.school("Elm Primary")
    _, client_id, secret = api_client_create(name="Elm MIS agent", kind="mis_agent", school=school)
    return school, client_id, secret_override or secret


def batches(school: Organisation) -> list[tuple[str, str, str]]:
    with tenant_scope([school.id]):
        return list(IngestBatch.objects.order_by("received_at").values_list("status", "file_sha256", "filename"))


def saved_state(tmp_path: Path) -> dict[str, Any]:
    files: dict[str, Any] = json.loads((tmp_path / "state" / "state.json").read_text())["files"]
    return files


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@contextmanager
def flaky_network(
    upstream: str | None, failures: list[int] | None = None, retry_after: str = "0"
) -> Iterator[tuple[str, list[str]]]:
    """The network between school and Steward: answers the next `failures` to uploads itself
    (with Retry-After), then forwards to `upstream`; with no upstream, every request gets 503.
    Yields its URL and the paths it was asked for, in order."""
    pending, seen = list(failures or []), []
    forward = httpx.Client(timeout=30)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)
            if upstream is None or (self.path == UPLOAD and pending):
                self.send_response(pending.pop(0) if pending else 503)
                self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k in ("Content-Type", "Authorization")}
            answer = forward.post(upstream + self.path, content=body, headers=headers, timeout=30)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        forward.close()


# -- against the real server --------------------------------------------------------------------


def test_a_waiting_file_is_applied_recorded_and_never_sent_again(
    committed_db: None, server_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    school, client_id, secret = mis_agent()
    config = load_config(write_config(tmp_path, server_url, client_id, secret))
    data = b.csv_zip(b.small_school())  # once: a zip records the time it was built
    sha = drop(tmp_path, "2026-09-03.zip", data)
    caplog.set_level(logging.INFO, logger="steward.agent")

    report = run_once(config)

    assert (report.sent, report.exit_code) == (["2026-09-03.zip"], 0)
    assert batches(school) == [("applied", sha, "2026-09-03.zip")]
    with tenant_scope([school.id]):
        batch = IngestBatch.objects.get()
    assert batch.mode == "full"
    entry = saved_state(tmp_path)[sha]
    assert (entry["name"], entry["status"], entry["batch_id"], entry["http_status"]) == (
        "2026-09-03.zip",
        "applied",
        str(batch.id),
        201,
    )
    assert entry["counts"]["learners"] == {"inserted": 2, "updated": 0, "unchanged": 0, "deleted": 0}
    assert (
        f"sent 2026-09-03.zip sha256={sha} batch={batch.id} status=applied attempts=1 "
        "counts=[learners 2 new, 0 changed, 0 unchanged, 0 deleted; contacts 2 new" in caplog.text
    )

    # The same bytes again, under its own name and under another: nothing is sent.
    drop(tmp_path, "2026-09-04.zip", data)
    again = run_once(config)
    assert (again.sent, again.known, again.exit_code) == ([], ["2026-09-03.zip", "2026-09-04.zip"], 0)
    assert len(batches(school)) == 1

    # With the state lost, Steward itself answers 200 duplicate, and still applies nothing.
    (tmp_path / "state" / "state.json").unlink()
    (tmp_path / "exports" / "2026-09-04.zip").unlink()
    lost = run_once(config)
    assert (lost.duplicates, lost.sent, lost.exit_code) == (["2026-09-03.zip"], [], 0)
    assert len(batches(school)) == 1
    assert (saved_state(tmp_path)[sha]["batch_id"], saved_state(tmp_path)[sha]["duplicate"]) == (str(batch.id), True)


def test_a_rejected_file_is_recorded_exits_1_and_is_not_resent(
    committed_db: None, server_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    school, client_id, secret = mis_agent()
    path = write_config(tmp_path, server_url, client_id, secret)
    bad = b.small_school()
    bad["learners"][0]["ethnicity"] = "XXXX"
    sha = drop(tmp_path, "bad.zip", b.csv_zip(bad))
    caplog.set_level(logging.INFO, logger="steward.agent")

    assert cli.main(["--config", str(path), "--once"]) == 1

    assert batches(school) == [("rejected", sha, "bad.zip")]
    entry = saved_state(tmp_path)[sha]
    assert (entry["status"], entry["http_status"]) == ("rejected", 422)
    with tenant_scope([school.id]):
        assert entry["batch_id"] == str(IngestBatch.objects.get().id)
    assert entry["errors"] == [
        {
            "record_type": "learners",
            "ref": "line 2",
            "source_id": "L1",
            "field": "ethnicity",
            "reason": "'XXXX' is not a code of ethnicity",
        }
    ]
    assert f"rejected bad.zip sha256={sha} batch={entry['batch_id']} http=422: 1 error(s)" in caplog.text
    assert "  learners line 2 (source_id L1) field ethnicity: 'XXXX' is not a code of ethnicity" in caplog.text

    assert cli.main(["--config", str(path), "--once"]) == 0
    assert len(batches(school)) == 1

    # Corrected, it is a new file (a new hash) and is sent.
    drop(tmp_path, "bad.zip", b.csv_zip(b.small_school()))
    assert cli.main(["--config", str(path), "--once"]) == 0
    assert [status for status, _, _ in batches(school)] == ["rejected", "applied"]


def test_a_wrong_secret_is_a_clear_auth_error_and_nothing_is_recorded(
    committed_db: None, server_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    school, client_id, _ = mis_agent()
    path = write_config(tmp_path, server_url, client_id, "not-the-secret")
    drop(tmp_path, "a.zip", b.csv_zip(b.small_school()))

    assert cli.main(["--config", str(path), "--once"]) == 2

    assert (
        "Steward refused the client credentials (invalid_client): check client_id and the client secret" in caplog.text
    )
    assert batches(school) == []
    assert not (tmp_path / "state" / "state.json").exists()


def test_a_file_still_being_written_waits_until_it_has_settled(
    committed_db: None, server_url: str, tmp_path: Path
) -> None:
    school, client_id, secret = mis_agent()
    config = load_config(write_config(tmp_path, server_url, client_id, secret, settle_seconds=30))
    data = b.csv_zip(b.small_school())
    sha = drop(tmp_path, "a.zip", data, age=5)

    report = run_once(config)
    assert (report.unsettled, report.sent, report.exit_code) == (["a.zip"], [], 0)
    assert batches(school) == []

    drop(tmp_path, "a.zip", data, age=31)
    assert run_once(config).sent == ["a.zip"]
    assert batches(school) == [("applied", sha, "a.zip")]


def test_503s_are_retried_with_capped_backoff_then_the_file_is_applied(
    committed_db: None, server_url: str, tmp_path: Path
) -> None:
    school, client_id, secret = mis_agent()
    sha = drop(tmp_path, "a.zip", b.csv_zip(b.small_school()))
    waits: list[float] = []
    with flaky_network(server_url, failures=[503, 503]) as (url, seen):
        config = load_config(write_config(tmp_path, url, client_id, secret, backoff_base=0.01, backoff_max=0.015))
        report = run_once(config, sleep=waits.append)

    assert seen == [TOKEN, UPLOAD, UPLOAD, UPLOAD]
    assert waits == [0.01, 0.015]
    assert report.sent == ["a.zip"]
    assert batches(school) == [("applied", sha, "a.zip")]


def test_a_refused_token_is_renewed_once_and_the_upload_retried(
    committed_db: None, server_url: str, tmp_path: Path
) -> None:
    school, client_id, secret = mis_agent()
    drop(tmp_path, "a.zip", b.csv_zip(b.small_school()))
    waits: list[float] = []
    with flaky_network(server_url, failures=[401]) as (url, seen):
        report = run_once(load_config(write_config(tmp_path, url, client_id, secret)), sleep=waits.append)

    assert seen == [TOKEN, UPLOAD, TOKEN, UPLOAD]
    assert (waits, report.sent) == ([], ["a.zip"])
    assert len(batches(school)) == 1


# -- the network failing ------------------------------------------------------------------------


def test_retries_stop_at_max_attempts_and_later_files_wait_their_turn(tmp_path: Path) -> None:
    drop(tmp_path, "2026-09-03.zip", b"first")
    drop(tmp_path, "2026-09-04.zip", b"second")
    waits: list[float] = []
    with flaky_network(None) as (url, seen):
        config = load_config(write_config(tmp_path, url, max_attempts=4, backoff_base=0.01, backoff_max=0.02))
        report = run_once(config, sleep=waits.append)

    assert seen == [TOKEN] * 4  # only the first file: a later delta must not overtake it
    assert waits == [0.01, 0.02, 0.02]
    assert (report.failed, report.sent, report.exit_code) == (["2026-09-03.zip"], [], 3)
    assert not (tmp_path / "state" / "state.json").exists()


def test_retry_after_is_a_floor_for_the_wait_capped_by_backoff_max(tmp_path: Path) -> None:
    drop(tmp_path, "a.zip", b"data")
    for backoff_max, expected in ((10, [7.0]), (5, [5.0])):
        waits: list[float] = []
        with flaky_network(None, retry_after="7") as (url, seen):
            config = load_config(write_config(tmp_path, url, max_attempts=2, backoff_max=backoff_max))
            run_once(config, sleep=waits.append)
        assert (seen, waits) == ([TOKEN, TOKEN], expected)


def test_a_refused_connection_is_retried_too(tmp_path: Path) -> None:
    drop(tmp_path, "a.zip", b"data")
    waits: list[float] = []
    config = load_config(write_config(tmp_path, closed_port_url(), max_attempts=3))
    report = run_once(config, sleep=waits.append)
    assert (waits, report.failed, report.exit_code) == ([0.01, 0.02], ["a.zip"], 3)


def test_backoff_doubles_to_its_cap_less_a_seeded_jitter() -> None:
    retry = Retry(max_attempts=6, base=1.0, max=8.0, jitter=0.5)
    draws = random.Random(7)
    expected = [full * (1 - 0.5 * draws.random()) for full in (1.0, 2.0, 4.0, 8.0, 8.0)]
    rng = random.Random(7)
    assert [backoff_delay(retry, n, rng) for n in range(1, 6)] == expected
    assert [backoff_delay(Retry(base=1.0, max=8.0, jitter=0), n, rng) for n in range(1, 6)] == [1, 2, 4, 8, 8]


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# -- files, state, configuration, command line --------------------------------------------------


def test_files_are_taken_in_name_order_with_their_format_from_the_suffix(tmp_path: Path) -> None:
    for name in ("b.xml", "a.zip", "c.json", "d.ndjson", "e.jsonl", "f.txt", ".g.zip", "~h.zip"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.zip").mkdir()
    found = [(c.path.name, c.format, c.mode) for c in candidates(Folder(tmp_path, None, "delta", None))]
    assert found == [
        ("a.zip", "csv-zip", "delta"),
        ("b.xml", "ctf", "delta"),
        ("c.json", "json", "delta"),
        ("d.ndjson", "ndjson", "delta"),
        ("e.jsonl", "ndjson", "delta"),
    ]
    overridden = [(c.path.name, c.format) for c in candidates(Folder(tmp_path, "*.txt", "full", "csv-zip"))]
    assert overridden == [("f.txt", "csv-zip")]


def test_the_state_file_is_replaced_whole_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.json"
    state = State.load(path)
    assert state.entries == {}
    entry = Entry(sha256="ab" * 32, name="a.zip", status="applied", batch_id="b1", http_status=201, sent_at="t")
    state.record(entry)
    assert State.load(path).entries == {entry.sha256: entry}
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]  # no temporary file left

    path.write_text("{not json")
    with pytest.raises(StateError, match="the state file cannot be read"):
        State.load(path)


def test_a_damaged_state_file_stops_the_agent_rather_than_resending(tmp_path: Path) -> None:
    path = write_config(tmp_path, closed_port_url())
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text('{"version": 99, "files": {}}')
    assert cli.main(["--config", str(path), "--once"]) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"server": None}, "'server' is required"),
        ({"server": "http://steward.example.gov.uk"}, "'server' must use https: the client secret and pupils'"),
        ({"server": "ftp://x"}, "'server' must be an https:// URL such as https://steward.example.gov.uk"),
        ({"client_secret": "inline"}, "'client_secret_file' or 'client_secret' is required (exactly one of them)"),
        ({"mode": "sometimes"}, "'mode' must be one of full, delta, not 'sometimes'"),
        ({"format": "xls"}, "'format' must be one of ctf, csv-zip, json, ndjson, not 'xls'"),
        ({"schedule": "hourly"}, "'schedule' 'hourly' is not a schedule; expected 'nightly HH:MM'"),
        ({"schedule": "nightly 25:00"}, "'schedule' '25:00' is not a time of day (HH:MM, 24-hour clock)"),
        ({"timezone": "Mars/Olympus"}, "'timezone' is not a known time zone such as Europe/London"),
        ({"settle_seconds": -1}, "'settle_seconds' must be at least 0, not -1"),
        ({"max_attempts": 2.5}, "'max_attempts' must be a whole number, not 2.5"),
        ({"watch": "nowhere"}, "'watch' must be an existing folder"),
        ({"shedule": "nightly 01:30"}, "'shedule' is not a setting (known: backoff_base,"),
    ],
)
def test_configuration_errors_name_the_key_and_the_reason(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = write_config(tmp_path, "https://steward.example.gov.uk")
    lines = [line for line in path.read_text().splitlines() if line.split(" = ")[0] not in change]
    lines += [f"{key} = {json.dumps(value)}" for key, value in change.items() if value is not None]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_the_cli_reports_configuration_errors_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(tmp_path / "missing.toml"), "--once"]) == 2
    assert f"configuration error: {tmp_path / 'missing.toml'}: cannot be read: No such file or directory" in (
        capsys.readouterr().err
    )
    path = write_config(tmp_path, "https://steward.example.gov.uk")
    assert cli.main(["--config", str(path)]) == 2  # running forever needs a schedule
    assert "'schedule' is required unless --once is given" in capsys.readouterr().err


def test_an_inline_secret_works_but_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(tmp_path, "https://steward.example.gov.uk")
    path.write_text(path.read_text().replace('client_secret_file = "secret"', 'client_secret = "s3"'))
    config = load_config(path)
    assert config.client_secret == "s3"
    assert "'client_secret_file' is safer" in caplog.text
    assert "s3" not in repr(config)


def test_a_dry_run_lists_what_would_be_sent_and_records_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path, closed_port_url())
    drop(tmp_path, "b.zip", b"2")
    drop(tmp_path, "a.zip", b"1")
    report = run_once(load_config(path), dry_run=True)
    assert (report.would_send, report.exit_code) == (["a.zip", "b.zip"], 0)
    assert cli.main(["--config", str(path), "--once", "--dry-run"]) == 0
    assert not (tmp_path / "state" / "state.json").exists()


def test_sigterm_asks_the_agent_to_stop_and_it_does(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, closed_port_url(), schedule="every 1h"))
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        cli._install_signal_handlers(stop)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert cli.run_forever(config, stop=stop) == 0  # already asked to stop: returns at once


def test_the_daemon_runs_on_schedule_until_stopped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(write_config(tmp_path, closed_port_url(), schedule="every 1s"))
    caplog.set_level(logging.INFO, logger="steward.agent")
    stop, outcome = threading.Event(), []
    daemon = threading.Thread(target=lambda: outcome.append(cli.run_forever(config, stop=stop)))
    daemon.start()
    for _ in range(300):
        if "run finished: 0 sent" in caplog.text:
            break
        stop.wait(0.01)
    stop.set()
    daemon.join(5)
    assert outcome == [0]
    assert caplog.text.count("next run at") == 2
    assert "steward-agent stopped" in caplog.text


# -- the schedule -------------------------------------------------------------------------------


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_schedules_are_parsed() -> None:
    assert parse_schedule("nightly 01:30") == Nightly(dt.time(1, 30))
    assert parse_schedule("weekly Sunday 02:00") == Weekly(6, dt.time(2, 0))
    assert parse_schedule("weekly tue 23:59") == Weekly(1, dt.time(23, 59))
    assert parse_schedule("every 15m") == Every(dt.timedelta(minutes=15))
    for text, message in (
        ("every 0m", "'0m' is not a positive interval such as 30s, 15m or 2h"),
        ("weekly funday 02:00", "'funday' is not a day of the week (monday .. sunday)"),
        ("nightly 1:60", "'1:60' is not a time of day (HH:MM, 24-hour clock)"),
    ):
        with pytest.raises(ScheduleError) as caught:
            parse_schedule(text)
        assert str(caught.value) == message


def test_nightly_runs_at_the_local_time_in_winter_and_summer() -> None:
    nightly = parse_schedule("nightly 01:30")
    assert next_run(nightly, utc("2026-01-10 12:00"), LONDON) == utc("2026-01-11 01:30")  # GMT
    assert next_run(nightly, utc("2026-07-10 12:00"), LONDON) == utc("2026-07-11 00:30")  # BST
    assert next_run(nightly, utc("2026-07-11 00:29"), LONDON) == utc("2026-07-11 00:30")
    assert next_run(nightly, utc("2026-07-11 00:30"), LONDON) == utc("2026-07-12 00:30")  # strictly after


def test_nightly_on_the_spring_forward_night_runs_an_hour_later_by_the_clock() -> None:
    # 29 March 2026: 01:00 GMT becomes 02:00 BST, so 01:30 never shows; the run is at 02:30 BST.
    due = next_run(parse_schedule("nightly 01:30"), utc("2026-03-28 12:00"), LONDON)
    assert due == utc("2026-03-29 01:30")
    assert due.astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"
    assert next_run(parse_schedule("nightly 01:30"), due, LONDON) == utc("2026-03-30 00:30")


def test_nightly_on_the_fall_back_night_runs_once_at_the_first_0130() -> None:
    # 25 October 2026: 02:00 BST becomes 01:00 GMT, so 01:30 shows twice; run at the first only.
    nightly = parse_schedule("nightly 01:30")
    first = next_run(nightly, utc("2026-10-24 12:00"), LONDON)
    assert first == utc("2026-10-25 00:30")
    assert next_run(nightly, first, LONDON) == utc("2026-10-26 01:30")


def test_weekly_runs_on_its_day_across_the_clock_change() -> None:
    weekly = parse_schedule("weekly sunday 02:00")
    assert next_run(weekly, utc("2026-03-25 12:00"), LONDON) == utc("2026-03-29 01:00")  # 02:00 BST
    assert next_run(weekly, utc("2026-03-29 01:00"), LONDON) == utc("2026-04-05 01:00")
    assert next_run(weekly, utc("2026-03-21 12:00"), LONDON) == utc("2026-03-22 02:00")  # 02:00 GMT
    assert next_run(weekly, utc("2026-03-22 01:59"), ZoneInfo("UTC")) == utc("2026-03-22 02:00")


def test_every_counts_from_the_end_of_the_last_run() -> None:
    assert next_run(parse_schedule("every 15m"), utc("2026-03-29 00:50"), LONDON) == utc("2026-03-29 01:05")
