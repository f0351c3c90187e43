from django.apps import AppConfig

from steward.core.events import FlowChanged, subscribe


class RegisterConfig(AppConfig):
    name = "steward.register"
    label = "register"
    verbose_name = "Processing register"

    def ready(self) -> None:
        from steward.register.privacy import RegisterPrivacyProvider
        from steward.register.providers import register_provider

        register_provider(RegisterPrivacyProvider())

        from steward.register.services import on_flow_changed

        subscribe(FlowChanged, on_flow_changed, when="in_transaction")
