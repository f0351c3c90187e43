from django.apps import AppConfig


class RosteringConfig(AppConfig):
    name = "steward.rostering"
    label = "rostering"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.rostering.privacy import RosteringPrivacyProvider

        register_provider(RosteringPrivacyProvider())
