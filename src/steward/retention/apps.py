from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "steward.retention"
    label = "retention"
    verbose_name = "Retention"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.retention.privacy import RetentionPrivacyProvider

        register_provider(RetentionPrivacyProvider())
