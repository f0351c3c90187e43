"""`steward sign_in_app --recipient CODE --name NAME --redirect-uri URI [--public]`: register an app
staff sign in to with Steward (OpenID Connect), and print its client id and secret (shown once).

Registering lets nobody sign in yet: each school must approve a `rostering` flow to the recipient."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.audit.actor import Actor
from steward.register.models import Recipient
from steward.rostering.services import sign_in_app_register


class Command(BaseCommand):
    help = "Register an OpenID Connect app for a register recipient; prints its client id and secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recipient", required=True, help="The register recipient's code")
        parser.add_argument("--name", required=True, help="The app's name, as staff will see it")
        parser.add_argument("--redirect-uri", action="append", required=True, help="May be given more than once")
        parser.add_argument("--public", action="store_true", help="A public client (no secret; PKCE only)")

    def handle(self, *args: Any, **options: Any) -> None:
        recipient = Recipient.objects.filter(code=options["recipient"]).first()
        if recipient is None:
            raise CommandError(f"--recipient: no recipient {options['recipient']!r} in the register")
        try:
            _, client_id, secret = sign_in_app_register(
                recipient=recipient,
                name=options["name"],
                redirect_uris=options["redirect_uri"],
                confidential=not options["public"],
                actor=Actor.system("steward sign_in_app"),
            )
        except ValidationError as error:
            raise CommandError(f"the app was not registered: {error}") from error
        self.stdout.write(f"client_id: {client_id}\n")
        if secret:
            self.stdout.write(f"client_secret: {secret}  (shown once: Steward keeps only its hash)\n")
