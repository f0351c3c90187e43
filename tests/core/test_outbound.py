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


@pytest.mark.parametrize(
    "url",
    [
        "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "https://[::ffff:a9fe:a9fe]/",  # IPv4-mapped link-local (cloud metadata)
        "https://[::127.0.0.1]/",  # IPv4-compatible loopback
        "https://[::a9fe:a9fe]/",  # IPv4-compatible link-local
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 well-known prefix, link-local
        "https://[64:ff9b::a00:1]/",  # NAT64 well-known prefix, 10.0.0.1
        "https://[64:ff9b::7f00:1]/",  # NAT64 well-known prefix, loopback
        "https://[64:ff9b:1::808:808]/",  # NAT64 local-use prefix: an operator's own network
        "https://[2002:a9fe:a9fe::]/",  # 6to4 of link-local
        "https://[2002:7f00:1::1]/",  # 6to4 of loopback
        "https://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1 (obfuscated)
        "https://[2001:0:a00:1::1]/",  # Teredo, server 10.0.0.1
    ],
)
def test_ipv6_forms_of_inside_addresses_are_refused_like_the_plain_forms(url: str) -> None:
    assert "private, loopback or link-local" in outbound_refusal(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://[2606:4700:4700::1111]/",  # a plain public IPv6 address
        "https://[::ffff:8.8.8.8]/",  # mapped public IPv4
        "https://[64:ff9b::808:808]/",  # NAT64 of a public IPv4
        "https://[2002:808:808::1]/",  # 6to4 of a public IPv4
    ],
)
def test_ipv6_forms_of_public_addresses_are_accepted(url: str) -> None:
    assert outbound_refusal(url) == ""
