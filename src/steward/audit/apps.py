from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "steward.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from steward.audit.privacy import AuditPrivacyProvider
        from steward.audit.retention import TARGETS
        from steward.core.database import APPEND_ONLY_TABLES
        from steward.register.providers import register_provider
        from steward.register.retention_targets import register_target

        APPEND_ONLY_TABLES.update({"audit_auditevent", "audit_auditanchor", "audit_auditchainsplit"})
        register_provider(AuditPrivacyProvider())
        for target in TARGETS:
            register_target(target)
