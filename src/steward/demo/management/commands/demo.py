"""`steward demo`: set up, load the demo local authority, print how to sign in, serve with the worker."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from steward.demo import loader


class Command(BaseCommand):
    help = "Set up the database, load the demo local authority and serve on http://127.0.0.1:8000."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--setup-only", action="store_true", help="everything except serving")
        parser.add_argument("--bind", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("setup", verbosity=0)
        if loader.demo_loaded():
            self.stdout.write("The demo local authority is already loaded (data kept).")
        else:
            loader.load_demo()
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
            credentials = loader.load_demo_portal()
            self.stdout.write("The schools switched on portal items and invited parents; some registered.")
        if credentials is not None and "privacy" not in credentials:
            credentials = loader.load_demo_privacy()
            self.stdout.write("The schools answered rights requests, placed a legal hold and signed an agreement.")
        if credentials:
            self._print_credentials(credentials)
        if not options["setup_only"]:
            self._serve(options["bind"])

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

    def _serve(self, bind: str) -> None:
        """Run the web server and the task worker until Ctrl-C, then stop both."""
        server = subprocess.Popen(
            [sys.executable, "-m", "steward", "serve", "--bind", bind]
        )  # our own interpreter and module  # nosec B603
        worker = subprocess.Popen([sys.executable, "-m", "steward", "worker"])  # our own interpreter and module  # nosec B603
        scheduler = subprocess.Popen([sys.executable, "-m", "steward", "scheduler"])  # our own interpreter and module  # nosec B603
        processes = (server, worker, scheduler)
        self.stdout.write(f"Serving on http://{bind}/ with the task worker and scheduler. Press Ctrl-C to stop.")
        try:
            while all(p.poll() is None for p in processes):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(timeout=1)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Stopped.")
