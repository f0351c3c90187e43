from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "steward.portal"
    label = "portal"
    verbose_name = "Parent portal"

    def ready(self) -> None:
        from steward.portal.privacy import PortalPrivacyProvider
        from steward.register.providers import register_provider

        register_provider(PortalPrivacyProvider())
