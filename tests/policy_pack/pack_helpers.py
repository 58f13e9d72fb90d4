"""Builders for the policy pack tests: resources as the engine hands them to analyzers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from offline_preview.policy_analyzer import UNKNOWN, AnalyzedResource, Diagnostic

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policypacks" / "ml-guardrails"
SAMPLE_CONFIG = PACK_DIR / "policy-config.sample.json"
STACK = "test"
PROJECT = "ml-platform"
ACCOUNT = "222222222222"
FOREIGN = "999999999999"
TAGS = {"owner": "team@example.com", "project": "fraud-detection", "environment": "dev",
        "cost-center": "CC-1", "data-classification": "internal"}

__all__ = ["UNKNOWN"]


def urn(type_: str, name: str, parent_type: str | None = None) -> str:
    chain = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{STACK}::{PROJECT}::{chain}::{name}"


def provider(name: str = "workload", region: str | None = "eu-west-1", tags: dict[str, str] | None = None,
             account: str | None = ACCOUNT, **extra: Any) -> AnalyzedResource:
    """An AWS provider; object inputs reach the engine JSON-encoded, as the Python SDK sends them."""
    props: dict[str, Any] = dict(extra)
    if region is not None:
        props["region"] = region
    if tags is not None:
        props["defaultTags"] = json.dumps({"tags": tags})
    if account is not None:
        props["allowedAccountIds"] = json.dumps([account])
        props["assumeRoles"] = json.dumps([{"roleArn": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"}])
    return AnalyzedResource(urn=urn("pulumi:providers:aws", name), type="pulumi:providers:aws", name=name,
                            properties=props)


def ref(p: AnalyzedResource) -> dict[str, Any]:
    return {"type": p.type, "name": p.name, "urn": p.urn, "properties": p.properties}


DEFAULT_PROVIDER = provider(tags=TAGS)


def res(type_: str, name: str, props: dict[str, Any] | None = None, *, prov: AnalyzedResource | None = DEFAULT_PROVIDER,
        deps: dict[str, Iterable[AnalyzedResource | str]] | None = None, protect: bool = False,
        **options: Any) -> AnalyzedResource:
    """A resource; `deps` maps a property to the resources its value came from."""
    property_dependencies = {k: [d if isinstance(d, str) else d.urn for d in v] for k, v in (deps or {}).items()}
    return AnalyzedResource(
        urn=urn(type_, name), type=type_, name=name, properties=dict(props or {}),
        provider=ref(prov) if prov is not None else None, protect=protect,
        property_dependencies=property_dependencies,
        dependencies=sorted({u for urns in property_dependencies.values() for u in urns}), **options)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def messages(diagnostics: Iterable[Diagnostic], policy: str, urn_: str | None = None) -> list[str]:
    return [d.message for d in diagnostics if d.policy_name == policy and (urn_ is None or d.urn == urn_)]


def assert_violation(diagnostics: list[Diagnostic], policy: str, *fragments: str, urn_: str | None = None) -> Diagnostic:
    found = [d for d in diagnostics if d.policy_name == policy and (urn_ is None or d.urn == urn_)
             and all(f in d.message for f in fragments)]
    assert found, (f"expected a {policy} violation containing {fragments}; got:\n"
                   + "\n".join(f"- {d.policy_name} [{d.urn}]: {d.message}" for d in diagnostics))
    return found[0]


def assert_clean(diagnostics: list[Diagnostic], policy: str, urn_: str | None = None) -> None:
    found = messages(diagnostics, policy, urn_)
    assert not found, f"unexpected {policy} violations:\n" + "\n".join(found)


# -- a compliant bucket set, linked through property dependencies ---------------------------------
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


def tls_policy(bucket_name: str) -> str:
    arn = f"arn:aws:s3:::{bucket_name}"
    return doc({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}})


def bucket_set(name: str = "data", *, bucket_value: Any = None, link: bool = True, protect: bool = True,
               skip: Iterable[str] = (), bucket_props: dict[str, Any] | None = None,
               pab: dict[str, Any] | None = None, sse_rule: dict[str, Any] | None = None,
               versioning: str = "Enabled", policy: Any = None) -> list[AnalyzedResource]:
    """A bucket with its public access block, encryption, versioning and TLS-only policy.

    `link=False` leaves out property dependencies (the children match on the bucket name);
    `bucket_value=UNKNOWN` simulates a preview where the bucket's name is not known yet."""
    bucket_name = f"mrd-{name}-bucket"
    bucket = res("aws:s3/bucket:Bucket", name, {"bucket": bucket_name, "arn": f"arn:aws:s3:::{bucket_name}",
                                               **(bucket_props or {})}, protect=protect)
    value = bucket_name if bucket_value is None else bucket_value
    deps = {"bucket": [bucket]} if link else None
    children = {
        "pab": res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-pab",
                   {"bucket": value, **(pab or {k: True for k in ("blockPublicAcls", "blockPublicPolicy",
                                                                   "ignorePublicAcls", "restrictPublicBuckets")})},
                   deps=deps),
        "sse": res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                   f"{name}-sse", {"bucket": value, "rules": [sse_rule or {
                       "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
                       "bucketKeyEnabled": True}]}, deps=deps),
        "versioning": res("aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning",
                          {"bucket": value, "versioningConfiguration": {"status": versioning}}, deps=deps),
        "policy": res("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy",
                      {"bucket": value, "policy": tls_policy(bucket_name) if policy is None else policy}, deps=deps),
    }
    return [DEFAULT_PROVIDER, bucket] + [r for k, r in children.items() if k not in skip]
