from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "steward.sharing"
    label = "sharing"
    verbose_name = "Sharing by approval"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.sharing.privacy import SharingPrivacyProvider

        register_provider(SharingPrivacyProvider())
