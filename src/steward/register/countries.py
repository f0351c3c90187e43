"""UK and EEA membership, for the rule that data leaves them only under a safeguard."""

UK_AND_EEA = frozenset(
    [
        "GB",
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)


def in_uk_or_eea(country: str) -> bool:
    return country.upper() in UK_AND_EEA
