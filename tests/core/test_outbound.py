"""Webhook and push addresses: public https only, unless the processor listed a private host."""

from __future__ import annotations

from typing import Any

import pytest

from steward.core.outbound import outbound_refusal


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "private, loopback or link-local"),
        ("https://localhost:8443/hook", "private, loopback or link-local"),
        ("https://10.1.2.3/hook", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data/", "private, loopback or link-local"),
        ("https://[::1]/hook", "private, loopback or link-local"),
        ("http://8.8.8.8/hook", "must be an https URL"),
        ("ftp://8.8.8.8/hook", "must be an https URL"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_addresses_inside_the_network_or_not_https_are_refused(url: str, why: str) -> None:
    assert why in outbound_refusal(url)


def test_a_public_https_address_is_accepted() -> None:
    assert outbound_refusal("https://8.8.8.8/hook") == ""


def test_a_private_host_or_network_the_processor_listed_is_accepted(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_PRIVATE = ["10.1.0.0/16", "127.0.0.1"]
    assert outbound_refusal("https://10.1.2.3/hook") == ""
    assert outbound_refusal("http://127.0.0.1:9000/hook") == ""
    assert "private" in outbound_refusal("https://10.2.0.1/hook")
