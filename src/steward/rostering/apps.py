from django.apps import AppConfig


class RosteringConfig(AppConfig):
    name = "steward.rostering"
    label = "rostering"
    default_auto_field = "django.db.models.BigAutoField"
