from django.apps import AppConfig

from steward.core.events import subscribe
from steward.ingest.events import BatchApplied


class PortalConfig(AppConfig):
    name = "steward.portal"
    label = "portal"
    verbose_name = "Parent portal"

    def ready(self) -> None:
        from steward.portal.privacy import PortalPrivacyProvider
        from steward.register.providers import register_provider

        register_provider(PortalPrivacyProvider())

        from steward.portal.tasks import on_batch_applied

        subscribe(BatchApplied, on_batch_applied, when="after_commit")
