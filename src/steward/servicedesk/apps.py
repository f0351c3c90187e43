from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    name = "steward.servicedesk"
    label = "servicedesk"
    verbose_name = "Service desk"

    def ready(self) -> None:
        from steward.consents.events import ConsentWithdrawn
        from steward.core.events import SubjectErased, subscribe
        from steward.register.providers import register_provider
        from steward.register.retention_targets import register_target
        from steward.retention.events import SchoolPurging, SubjectErasureReplayed
        from steward.servicedesk import attachments, copies
        from steward.servicedesk.privacy import ServiceDeskPrivacyProvider
        from steward.servicedesk.retention import TARGETS

        register_provider(ServiceDeskPrivacyProvider())
        for target in TARGETS:
            register_target(target)
        subscribe(ConsentWithdrawn, copies.on_consent_withdrawn, when="in_transaction")
        subscribe(SchoolPurging, copies.on_school_purging, when="in_transaction")
        subscribe(SchoolPurging, attachments.on_school_purging, when="in_transaction")
        # After the erasure commits: the copy's rows are deleted through the owner's connection,
        # which must not run ahead of an erasure that could still roll back.
        subscribe(SubjectErased, copies.on_subject_erased, when="after_commit")
        # And again after a backup restore brought the copies back as they were before the erasure.
        subscribe(SubjectErasureReplayed, copies.on_subject_erased, when="after_commit")
