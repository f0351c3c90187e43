"""Commands on the processing register."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.db import transaction

from steward.core.events import publish
from steward.register.events import CatalogueSynced


@transaction.atomic
def catalogue_sync() -> None:
    """Load the register catalogue (as its migrations do) and say so: the apps built on the register
    (the privacy notices) record what the sync changed, in the same transaction."""
    from steward.register.catalogue import sync_catalogue

    sync_catalogue(django_apps)
    publish(CatalogueSynced())
