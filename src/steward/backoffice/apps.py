from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "steward.backoffice"
    label = "backoffice"
    verbose_name = "Back office"
