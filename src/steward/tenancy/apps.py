from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "steward.tenancy"
    label = "tenancy"
    verbose_name = "Organisations, contracts and people"

    def ready(self) -> None:
        from steward.register.providers import register_provider
        from steward.tenancy.privacy import SchoolUserPrivacyProvider

        register_provider(SchoolUserPrivacyProvider())
        from steward.core.replicas import register_session_settings
        from steward.tenancy.scope import replica_session_settings

        register_session_settings(replica_session_settings)
        post_migrate.connect(_policies_once_per_statement, sender=self)


def _policies_once_per_statement(using: str, **kwargs: Any) -> None:
    """After every migration run: policies call the scope functions once per statement (see
    `tenancy.rls.policies_once_per_statement`)."""
    from django.db import connections

    from steward.tenancy.rls import policies_once_per_statement

    with connections[using].cursor() as cursor:
        policies_once_per_statement(cursor)
