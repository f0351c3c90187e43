from django.apps import AppConfig


class MisConfig(AppConfig):
    name = "steward.mis"
    label = "mis"
    verbose_name = "School data (MIS)"

    def ready(self) -> None:
        from steward.mis.privacy import MisPrivacyProvider
        from steward.register.providers import register_provider

        register_provider(MisPrivacyProvider())
