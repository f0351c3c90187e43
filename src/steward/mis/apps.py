from django.apps import AppConfig


class MisConfig(AppConfig):
    name = "steward.mis"
    label = "mis"
    verbose_name = "School data (MIS)"

    def ready(self) -> None:
        from steward.mis.privacy import MisPrivacyProvider
        from steward.mis.retention import TARGETS
        from steward.register.providers import register_provider
        from steward.register.retention_targets import register_target

        register_provider(MisPrivacyProvider())
        for target in TARGETS:
            register_target(target)
