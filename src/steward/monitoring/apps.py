from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "steward.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from steward.monitoring.privacy import MonitoringPrivacyProvider
        from steward.register.providers import register_provider

        register_provider(MonitoringPrivacyProvider())
