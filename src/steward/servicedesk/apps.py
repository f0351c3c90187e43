from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    name = "steward.servicedesk"
    label = "servicedesk"
    verbose_name = "Service desk"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.servicedesk.privacy import ServiceDeskPrivacyProvider

        register_provider(ServiceDeskPrivacyProvider())
