from django.apps import AppConfig


class RightsConfig(AppConfig):
    name = "steward.rights"
    label = "rights"
    verbose_name = "Subject rights requests"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.rights.privacy import RightsPrivacyProvider

        register_provider(RightsPrivacyProvider())
