"""Django's PostgreSQL backend with one change: the host is found when a connection is opened.

The settings name this backend instead of a socket directory, so importing them (mypy's Django
plugin, ruff, `manage.py check`, any `import steward.settings`) starts nothing and needs no
database; the embedded server is started by whatever first connects.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if not params.get("host"):
            from steward.core import embedded_db

            params["host"] = embedded_db.ensure_running()
        return params
