from django.apps import AppConfig


class SignInsConfig(AppConfig):
    name = "steward.signins"
    label = "signins"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from django.core import checks

        from steward.register.providers import register_provider
        from steward.signins.checks import check_session_limits
        from steward.signins.privacy import SignInsPrivacyProvider

        register_provider(SignInsPrivacyProvider())
        checks.register(check_session_limits)
