from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "steward.sharing"
    label = "sharing"
    verbose_name = "Sharing by approval"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.register.retention_targets import register_target
        from steward.sharing.privacy import SharingPrivacyProvider
        from steward.sharing.retention import TARGETS

        register_provider(SharingPrivacyProvider())
        for target in TARGETS:
            register_target(target)
