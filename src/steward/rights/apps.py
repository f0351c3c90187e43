from django.apps import AppConfig

from steward.core.events import subscribe
from steward.ingest.events import BatchApplied
from steward.retention.events import SchoolPurging


class RightsConfig(AppConfig):
    name = "steward.rights"
    label = "rights"
    verbose_name = "Subject rights requests"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.rights.privacy import RightsPrivacyProvider

        register_provider(RightsPrivacyProvider())

        from steward.rights.services import on_batch_applied, on_school_purging

        subscribe(BatchApplied, on_batch_applied, when="in_transaction")
        subscribe(SchoolPurging, on_school_purging, when="in_transaction")
