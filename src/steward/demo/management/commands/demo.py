"""`steward demo`: set up, load the demo local authority, print how to sign in, serve with the worker.

The embedded PostgreSQL is stopped when the demo ends if the demo started it, so `make demo` leaves
no server behind; `--keep-database` (or STEWARD_KEEP_DATABASE=1) leaves it running for the next
command. A server that was already running (a test run, a `steward serve` elsewhere) is left alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections
from django.utils import timezone

from steward.core import embedded_db
from steward.demo import loader, scim_server
from steward.demo import provisioning as demo_provisioning
from steward.demo import rostering as demo_rostering
from steward.demo import sign_in as demo_sign_in
from steward.demo.sign_in_client import SignInClient
from steward.retention.models import BackupCopy


def served_url(bind: str) -> str:
    """The address to print for `--bind`: STEWARD_BASE_URL when set (a proxy in front), else the
    bound address, with a wildcard host (0.0.0.0, ::) shown as loopback, where it also answers."""
    if os.environ.get("STEWARD_BASE_URL"):
        return os.environ["STEWARD_BASE_URL"].rstrip("/")
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    with contextlib.suppress(ValueError):  # a host name is not an address: kept as it is
        if not host or ipaddress.ip_address(host).is_unspecified:
            host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _approve_loopback() -> None:
    """The demo's stand-ins (its SCIM directory, sign-in provider and apps) listen on this machine:
    the demo approves loopback the way an ICT service approves a host on its private network
    (`core.outbound`), for itself and the server, worker and scheduler it starts."""
    allowed = list(settings.OUTBOUND_ALLOWED_PRIVATE)
    if "127.0.0.1" not in allowed:
        allowed.append("127.0.0.1")
    settings.OUTBOUND_ALLOWED_PRIVATE = allowed
    os.environ["STEWARD_OUTBOUND_ALLOWED_PRIVATE"] = ",".join(allowed)


def backups_summary() -> str:
    """ "Backups: N copies, verified at ..." as the database says now (the scheduler may have added some)."""
    copies = BackupCopy.objects.count()
    plural = "copy" if copies == 1 else "copies"
    verified = BackupCopy.objects.filter(verified_at__isnull=False).order_by("-verified_at").first()
    if verified is None or verified.verified_at is None:
        return f"Backups: {copies} {plural}, none verified yet."
    when = f"{timezone.localtime(verified.verified_at):%d %b %Y %H:%M} (UK time)"
    if not verified.verified_ok:
        return (
            f"Backups: {copies} {plural}, the last verification failed at {when}: {verified.verification.get('error')}"
        )
    return f"Backups: {copies} {plural}, verified at {when}."


class Command(BaseCommand):
    help = "Set up the database, load the demo local authority and serve it (--bind, default 127.0.0.1:8000)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--setup-only", action="store_true", help="everything except serving")
        parser.add_argument(
            "--bind",
            default=os.environ.get("STEWARD_BIND", "127.0.0.1:8000"),
            help="HOST:PORT to serve on (default 127.0.0.1:8000, or STEWARD_BIND)",
        )
        parser.add_argument(
            "--keep-database",
            action="store_true",
            default=os.environ.get("STEWARD_KEEP_DATABASE") == "1",
            help="leave the embedded PostgreSQL running when the demo ends (or STEWARD_KEEP_DATABASE=1)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        _approve_loopback()
        loader.use_demo_backup_key()
        embedded = not os.environ.get("DATABASE_URL")
        started_here = embedded and embedded_db.running_pid() is None
        try:
            self._run(options)
        finally:
            if started_here and not options["keep_database"]:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
                connections.close_all()
                if embedded_db.stop():
                    self.stdout.write(
                        f"Stopped the embedded PostgreSQL (data kept in {embedded_db.PGDATA}; "
                        "--keep-database leaves it running)."
                    )

    def _run(self, options: dict[str, Any]) -> None:
        base_url = served_url(options["bind"])
        call_command("setup", verbosity=0)
        if loader.demo_loaded():
            self.stdout.write("The demo local authority is already loaded (data kept).")
        else:
            loader.load_demo(base_url)
            self.stdout.write("Loaded the demo local authority.")
        credentials = loader.read_credentials() if loader.CREDENTIALS_PATH.exists() else None
        if credentials is not None and not credentials.get("mis_agents"):
            self.stdout.write("Sending each school's MIS data through its agent ...")
            credentials = loader.load_demo_mis_data()
            self.stdout.write("Each school's MIS agent delivered its batch over the API.")
        if credentials is not None and "recipients" not in credentials:
            credentials = loader.load_demo_flows()
            self.stdout.write("Recipients requested data flows; the schools decided.")
        if credentials is not None and "parents" not in credentials:
            credentials = loader.load_demo_portal(base_url)
            self.stdout.write("The schools switched on portal items and invited parents; some registered.")
        if credentials is not None and "privacy" not in credentials:
            credentials = loader.load_demo_privacy(base_url)
            self.stdout.write("The schools answered rights requests, placed a legal hold and signed an agreement.")
        if credentials is not None and "provisioning" not in credentials:
            credentials = loader.load_demo_provisioning()
        if credentials is not None and "sign_in_app" not in credentials:
            credentials = loader.load_demo_sign_in(base_url)
        if credentials is not None and "monitoring" not in credentials:
            credentials = loader.load_demo_monitoring()
            self.stdout.write("Monitoring read a few weeks of sign-ins and reading; the DPOs decided two alerts.")
        if credentials is not None and "backups" not in credentials:
            self.stdout.write("Taking a first backup and restoring it into a scratch server to verify it ...")
            credentials = loader.load_demo_backup(base_url)
        directory = self._start_directory(base_url) if credentials is not None else None
        app = None
        try:
            if credentials:
                credentials = loader.rebase(credentials, base_url)
                self._print_credentials(credentials)
                app = self._start_app(base_url, credentials["sign_in_app"], serving=not options["setup_only"])
            if not options["setup_only"]:
                self._serve_with_provider(options["bind"], base_url)
        finally:
            if app is not None:
                app.stop()
            if directory is not None:
                directory.stop()

    def _start_app(self, base_url: str, sign_in: dict[str, Any], *, serving: bool) -> SignInClient | None:
        """The learning platform's sign-in app beside Steward, and how to try it and its OneRoster."""
        user = sign_in["user"]
        self.stdout.write(
            f"Learning platform ({sign_in['name']}): approved by {sign_in['school']}, pending at "
            f"{sign_in['pending_at']} (Data sharing). Its OneRoster client is the `learning-app` recipient "
            "above (README, 'Learning platforms')."
        )
        csv = sign_in.get("oneroster_csv")
        if csv:
            self.stdout.write(
                f"  Its nightly OneRoster CSV zip ({csv['status']}, {csv['records']} records at load) goes to "
                f"{csv['folder']}; `uv run steward oneroster export --school 881002 --recipient learning-app` "
                "writes one now."
            )
        app = demo_rostering.start_app(base_url, sign_in) if serving else None
        if serving and app is None:
            host, port = demo_rostering.app_address(base_url)
            self.stdout.write(f"  Its sign-in app could not listen on {host}:{port} (STEWARD_DEMO_APP_BIND moves it).")
        elif app is not None:
            self.stdout.write(
                f"  Try staff sign-in at {app.url}/ as {user['name']} ({user['email']}, password "
                f"{user['password']}, a code from their authenticator)."
            )
        return app

    def _start_directory(self, base_url: str) -> scim_server.ScimServer:
        """The demo's SCIM directory, for as long as this command runs, and a first sync into it."""
        server, token = demo_provisioning.start_directory()
        done = demo_provisioning.connect(server, token)
        self.stdout.write(
            f"Account provisioning: {done['school']} synced its staff and pupils to a SCIM directory at "
            f"{done['directory']} ({done['status'].lower()}: {done['summary']}); the plan and run are at "
            f"{base_url}/school/accounts/{done['target_id']}/ (as Riverside Academy's admin)."
        )
        return server

    def _print_credentials(self, credentials: dict[str, Any]) -> None:
        self.stdout.write(f"\nSign in at {credentials['sign_in_url']} (credentials in {loader.CREDENTIALS_PATH}):")
        for user in credentials["users"]:
            where = ", ".join(user["schools"]) or user["organisation"]
            self.stdout.write(f"  {user['role']:<32} {user['email']:<40} {user['password']}  ({where})")
        for client in credentials.get("recipients", []):
            self.stdout.write(f"  Recipient {client['recipient']}: client id {client['client_id']}")
        for agent in credentials.get("mis_agents", []):
            self.stdout.write(
                f"  MIS agent of {agent['school']}: client id {agent['client_id']} "
                f"(config {agent['folder']}/agent.toml)"
            )
        self.stdout.write(f"\n{credentials['note']}\n")
        parents = credentials.get("parents")
        if parents:
            self.stdout.write(f"Parents sign in at {parents['portal_url']}:")
            for parent in parents["accounts"]:
                children = ", ".join(parent["children"])
                where = ", ".join(parent["schools"])
                self.stdout.write(f"  {'Parent':<32} {parent['email']:<40} {parent['password']}  ({where}: {children})")
            invited = parents.get("invited_not_registered", [])
            if invited:
                self.stdout.write(f"  Invited, not registered yet: {', '.join(p['email'] for p in invited)}")
            self.stdout.write(f"\n{parents['note']}\n")
        privacy = credentials.get("privacy")
        if privacy:
            self._print_privacy(privacy)
        monitoring = credentials.get("monitoring")
        if monitoring:
            self._print_monitoring(monitoring)
        backups = credentials.get("backups")
        if backups:
            self._print_backups(backups)

    def _print_privacy(self, privacy: dict[str, Any]) -> None:
        self.stdout.write("Privacy operations:")
        self.stdout.write(f"  Rights requests: {privacy['rights_url']} (as a school admin or DPO)")
        for r in [*privacy["requests"], privacy["portal_request"]]:
            state = r["status"].replace("_", " ") + (", overdue" if r["overdue"] else "")
            state += ", extended" if r["extended"] else ""
            by = f" (from the portal, by {r['parent']})" if "parent" in r else ""
            self.stdout.write(f"    {r['kind']:<14} {state:<22} {r['school']}: {r['url']}{by}")
        hold = privacy["legal_hold"]
        self.stdout.write(f"  Legal hold at {hold['school']} on {hold['subject']}: {hold['reason']}")
        self.stdout.write(f"  Retention preview (shows the held rows): {privacy['retention_preview']}")
        self.stdout.write(f"  Pseudonymised copy under the data use agreement: {privacy['pseudonymise']}")
        self.stdout.write("  Privacy notices (current; versions):")
        for school in privacy["notices"]:
            for notice in school["services"]:
                self.stdout.write(
                    f"    {school['school']}, {notice['service']}: {notice['url']} "
                    f"(v{notice['versions']}; {notice['versions_url']})"
                )
        self.stdout.write(f"\n{privacy['note']}\n")

    def _print_monitoring(self, monitoring: dict[str, Any]) -> None:
        opened, resolved = monitoring["open"], monitoring["resolved"]
        rules = ", ".join(sorted(a["rule"].replace("_", " ") for a in opened))
        expected = sum(1 for a in resolved if a["status"] == "resolved_expected")
        incidents = len(resolved) - expected
        breach = monitoring["breach"]
        self.stdout.write(
            f"Monitoring: {len(opened)} open alert{'s' * (len(opened) != 1)} ({rules}), {expected} resolved as "
            f"expected behaviour, {incidents} resolved as an incident with a breach record ({breach['school']}, "
            f"about {breach['people']} people)."
        )
        self.stdout.write(f"  All alerts (as Priya Shah): {monitoring['processor_alerts_url']}")
        self.stdout.write(f"  A school's alerts (as its admin or DPO): {monitoring['school_alerts_url']}")
        for alert in [*opened, *resolved]:
            where = alert["school"] or "the ICT service"
            self.stdout.write(f"    {alert['status_label']:<28} {alert['title']} ({where}): {alert['url']}")
        self.stdout.write(f"  The breach record and its 72-hour clock for telling the ICO: {breach['url']}")
        self.stdout.write(f"\n{monitoring['note']}\n")

    def _print_backups(self, backups: dict[str, Any]) -> None:
        self.stdout.write(backups_summary())
        self.stdout.write(f"  The Backups page (as Priya Shah): {backups['page_url']}")
        self.stdout.write(
            f"  Demo only: the backups' private key is kept on this machine, owner-only, in {backups['key_file']}, "
            "so the demo can verify them (and its scheduler's weekly verify can too). A real deployment keeps the "
            "private key off the server and gives only the public key (README, 'Backups and restore').\n"
        )

    def _serve_with_provider(self, bind: str, base_url: str) -> None:
        """Serve with "Sign in with Demo school (Microsoft 365)" on the sign-in page, its stand-in
        provider on loopback for as long as the demo runs (unless STEWARD_SIGN_IN_PROVIDERS is set)."""
        if os.environ.get("STEWARD_SIGN_IN_PROVIDERS"):
            self._serve(bind, base_url, {})
            return
        idp, providers = demo_sign_in.start_provider()
        self.stdout.write(
            f'Sign in with "{demo_sign_in.NAME}" on the sign-in page: its stand-in provider at {idp.issuer} '
            f"signs in {idp.default_email} (or another member of that school's staff) without a password; "
            "tick its second-factor box to skip the code step.\n"
        )
        try:
            self._serve(bind, base_url, {"STEWARD_SIGN_IN_PROVIDERS": providers})
        finally:
            idp.stop()

    def _serve(self, bind: str, base_url: str, extra_env: dict[str, str]) -> None:
        """Run the web server, the task worker and the scheduler until Ctrl-C, then stop them.

        They get STEWARD_BASE_URL, so the links in the emails they send use the address served."""
        env = {**os.environ, "STEWARD_BASE_URL": base_url, **extra_env}
        server = subprocess.Popen(
            [sys.executable, "-m", "steward", "serve", "--bind", bind], env=env
        )  # our own interpreter and module  # nosec B603
        worker = subprocess.Popen(
            [sys.executable, "-m", "steward", "worker"], env=env
        )  # our own interpreter and module  # nosec B603
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "steward", "scheduler"], env=env
        )  # our own interpreter and module  # nosec B603
        processes = (server, worker, scheduler)
        self.stdout.write(f"Serving on {base_url}/ with the task worker and scheduler. Press Ctrl-C to stop.")
        try:
            while all(p.poll() is None for p in processes):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(timeout=1)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop below is bounded; a second Ctrl-C waits
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Stopped.")
