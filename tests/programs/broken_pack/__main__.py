"""Imports a helper package that is not installed."""

from pulumi_policy import PolicyPack

import policy_helpers_not_installed  # noqa: F401

PolicyPack(name="broken-demo", policies=[])
