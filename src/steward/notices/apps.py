from django.apps import AppConfig

from steward.core.events import FlowChanged, subscribe
from steward.register.events import CatalogueSynced
from steward.retention.events import TerminationStarted
from steward.tenancy.events import DataProtectionContactChanged


class NoticesConfig(AppConfig):
    """The public privacy notices: a face over the register, tenancy, sharing, retention and portal.

    Lower apps never call it; they publish what changed a notice, and it records a new version."""

    name = "steward.notices"
    label = "notices"
    verbose_name = "Privacy notices"

    def ready(self) -> None:
        from steward.notices.privacy import NoticesPrivacyProvider
        from steward.notices.services import (
            on_catalogue_synced,
            on_contact_changed,
            on_flow_changed,
            on_termination_started,
        )
        from steward.register.providers import register_provider

        register_provider(NoticesPrivacyProvider())
        subscribe(FlowChanged, on_flow_changed, when="in_transaction")
        subscribe(DataProtectionContactChanged, on_contact_changed, when="in_transaction")
        subscribe(CatalogueSynced, on_catalogue_synced, when="in_transaction")
        subscribe(TerminationStarted, on_termination_started, when="in_transaction")
