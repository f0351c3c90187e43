from django.apps import AppConfig


class RegisterConfig(AppConfig):
    name = "steward.register"
    label = "register"
    verbose_name = "Processing register"

    def ready(self) -> None:
        from steward.register.privacy import CorePrivacyProvider
        from steward.register.providers import register_provider

        # Core sits beside the register on the ground floor and imports nothing above itself, so
        # the provider for core's rate-limit counters lives here and is registered by the register.
        register_provider(CorePrivacyProvider())
