from tests.backoffice.conftest import admin_a, admin_b, school_a, school_b

__all__ = ["admin_a", "admin_b", "school_a", "school_b"]
