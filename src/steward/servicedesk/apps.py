from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    name = "steward.servicedesk"
    label = "servicedesk"
    verbose_name = "Service desk"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.register.retention_targets import register_target
        from steward.servicedesk.privacy import ServiceDeskPrivacyProvider
        from steward.servicedesk.retention import TARGETS

        register_provider(ServiceDeskPrivacyProvider())
        for target in TARGETS:
            register_target(target)
