from django.apps import AppConfig


class RosteringConfig(AppConfig):
    name = "steward.rostering"
    label = "rostering"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from steward.core.flow_formats import FlowFormat, register_flow_format
        from steward.register.providers import register_provider
        from steward.rostering.privacy import RosteringPrivacyProvider
        from steward.rostering.selectors import SERVICE
        from steward.rostering.services import oneroster_csv_deliver

        register_provider(RosteringPrivacyProvider())
        # Sharing delivers an export flow whose target asks for this format by calling the writer
        # (sharing may not import rostering: rostering imports sharing).
        register_flow_format(
            FlowFormat(
                code="oneroster-csv",
                label="OneRoster 1.2 CSV zip",
                service=SERVICE,
                write=oneroster_csv_deliver,
            )
        )
