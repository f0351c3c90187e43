from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "steward.tenancy"
    label = "tenancy"
    verbose_name = "Organisations, contracts and people"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.tenancy.privacy import SchoolUserPrivacyProvider

        register_provider(SchoolUserPrivacyProvider())
