"""Connectors: how a plan's operations reach one kind of directory (SCIM 2.0, Active Directory)."""
