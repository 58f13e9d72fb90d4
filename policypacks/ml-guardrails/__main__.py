"""The ml-guardrails CrossGuard policy pack (see README.md and CATALOG.md)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from ml_guardrails import PACK_NAME, all_policies, request_cache

# The SDK deserializes each resource once per request instead of once per policy (see request_cache).
request_cache.install()

PolicyPack(
    name=PACK_NAME,
    policies=all_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Guardrails of the ml-platform (its guardrail catalog): organization, logging, identity, storage, keys, "
                "SageMaker, network, supply chain and AWS limits.",
    display_name="ML platform guardrails",
    provider="aws",
    tags=["aws", "ml-platform", "guardrails"],
)
