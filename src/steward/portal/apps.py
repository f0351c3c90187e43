from django.apps import AppConfig

from steward.core.events import subscribe
from steward.ingest.events import BatchApplied


class PortalConfig(AppConfig):
    name = "steward.portal"
    label = "portal"
    verbose_name = "Parent portal"

    def ready(self) -> None:
        from steward.portal.privacy import PortalPrivacyProvider, account_in_school, accounts_matching
        from steward.portal.retention import SCHOOL_ROWS, TARGETS
        from steward.register.providers import register_provider, register_subject_finder, register_subject_search
        from steward.register.retention_targets import register_school_rows, register_target

        register_provider(PortalPrivacyProvider())
        register_subject_finder("parent_user", account_in_school)
        register_subject_search("parent_user", accounts_matching)
        register_school_rows(SCHOOL_ROWS)
        for target in TARGETS:
            register_target(target)

        from steward.portal.tasks import on_batch_applied

        subscribe(BatchApplied, on_batch_applied, when="after_commit")
