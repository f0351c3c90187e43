from django.apps import AppConfig


class ConsentsConfig(AppConfig):
    name = "steward.consents"
    label = "consents"
    verbose_name = "Consents and agreements"

    def ready(self) -> None:
        from steward.consents.privacy import ConsentsPrivacyProvider
        from steward.register.providers import register_provider

        register_provider(ConsentsPrivacyProvider())
