from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "steward.provisioning"
    label = "provisioning"
    verbose_name = "Account provisioning"

    def ready(self) -> None:
        from steward.core.events import SubjectErased, subscribe
        from steward.ingest.events import BatchApplied
        from steward.provisioning.events import on_batch_applied
        from steward.provisioning.privacy import ProvisioningPrivacyProvider, on_subject_erased
        from steward.provisioning.retention import TARGETS
        from steward.register.providers import register_provider
        from steward.register.retention_targets import register_target

        register_provider(ProvisioningPrivacyProvider())
        for target in TARGETS:
            register_target(target)
        subscribe(BatchApplied, on_batch_applied, when="after_commit")
        subscribe(SubjectErased, on_subject_erased, when="in_transaction")
