"""Deterministic logical-name pieces shared by the components."""

from __future__ import annotations


def regional_suffix(region: str, home_region: str) -> str:
    """`""` in the home region, `-<region>` elsewhere: adding a region adds resources without
    renaming (and so replacing) those that exist."""
    return "" if region == home_region else f"-{region}"


def cidr_slug(cidr: str) -> str:
    """A CIDR block as a name part: `10.0.0.0/8` -> `10-0-0-0-8`."""
    return cidr.replace(".", "-").replace("/", "-")


def camel(*parts: str) -> str:
    """`fraud-detection`, `dev` -> `FraudDetectionDev` (statement ids allow [A-Za-z0-9])."""
    return "".join(w.capitalize() for p in parts for w in p.replace("_", "-").split("-"))
