from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Holds no models: an app only so that Django finds the `steward demo` management command."""

    name = "steward.demo"
    label = "demo"
    verbose_name = "Demo local authority"
