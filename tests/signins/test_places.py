"""The offline database answers for real addresses and says "unknown" (never fails) for the rest."""

from __future__ import annotations

import pytest

from steward.signins.places import Place, device_of, place_of

# Ranges the shipped database (GeoLite2 in geoip2fast's wheel) places, checked in a Python shell:
# 81.2.69.160 is in 81.2.64.0/18 (GB, Andrews & Arnold), 8.8.8.8 in Google's US range,
# 2a00:1450:4009::1 in Google's GB IPv6 range.
GB_ADDRESS = "81.2.69.160"
US_ADDRESS = "8.8.8.8"
GB_IPV6_ADDRESS = "2a00:1450:4009::1"


def test_a_british_and_an_american_address_get_their_country_and_network() -> None:
    gb = place_of(GB_ADDRESS)
    assert (gb.country_code, gb.country_name) == ("GB", "United Kingdom")
    assert gb.network == "Andrews & Arnold Ltd"
    us = place_of(US_ADDRESS)
    assert (us.country_code, us.network) == ("US", "GOOGLE")
    assert place_of(GB_IPV6_ADDRESS).country_code == "GB"


@pytest.mark.parametrize(
    ("address", "network"),
    [("127.0.0.1", "127.0.0.0/24"), ("10.1.2.3", "10.1.2.0/24"), ("192.168.0.9", "192.168.0.0/24"), ("::1", "::/48")],
)
def test_loopback_and_private_addresses_have_no_country_but_a_prefix(address: str, network: str) -> None:
    assert place_of(address) == Place(network=network)


@pytest.mark.parametrize("address", ["", None, "not-an-address", "999.1.1.1"])
def test_what_is_not_an_address_is_unknown(address: str | None) -> None:
    assert place_of(address) == Place()


def test_the_device_is_the_browser_and_system_in_plain_words() -> None:
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    )
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1"
    )
    assert device_of(chrome) == "Chrome on Windows"
    assert device_of(iphone) == "Mobile Safari on iOS (iPhone)"
    assert device_of("") == "Unknown device"
    assert device_of("x" * 5000) == "Unknown device"


def test_an_ipv4_client_seen_through_a_dual_stack_listener_is_placed_by_its_ipv4_address() -> None:
    from steward.monitoring.geo import country_of

    mapped = f"::ffff:{GB_ADDRESS}"
    assert place_of(mapped) == place_of(GB_ADDRESS)
    assert country_of(mapped) == "GB"
    # A mapped private address stays private: no country, only its prefix.
    assert place_of("::ffff:10.1.2.3").country_code == ""
