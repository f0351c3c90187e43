from django.apps import AppConfig

from steward.core.events import SubjectErased, subscribe


class RetentionConfig(AppConfig):
    name = "steward.retention"
    label = "retention"
    verbose_name = "Retention"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.retention.privacy import RetentionPrivacyProvider

        register_provider(RetentionPrivacyProvider())

        from django.core import checks

        from steward.retention.backups.settings_check import check_backup_location

        checks.register(check_backup_location)

        from steward.retention.services import on_subject_erased

        subscribe(SubjectErased, on_subject_erased, when="in_transaction")
