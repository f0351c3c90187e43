"""Monitoring: rules over the audit log that find suspicious behaviour, and the alerts they raise."""
