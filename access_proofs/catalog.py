"""The scenario catalog (`access_proofs/scenarios.yaml`): who does what, with which request
context, and the decision the guardrails promise. Data, not code; typed and validated here.

Strings in `resource`, `context` values and `principal.arn` may use placeholders that the plan
resolves, so the catalog names things the way the platform definition does, not by mocked ids:

* `{account:<name>}`: an account id (`management`, `log-archive`, `fraud-detection-dev`, ...);
* `{org_id}`, `{region}` (the scenario's region);
* `{bucket:<stack>/<logical name>}`: a bucket's name, `{key:<stack>/<logical name>}`: a key's ARN;
* `{ecr:<stack>/<logical name>}`: an ECR repository's ARN, `{codeartifact:<stack>/<logical name>}`:
  a CodeArtifact domain's or repository's ARN;
* `{each}`, with `for_each: bucket`, `key`, `ecr` or `codeartifact`: every bucket's name, key's
  ARN, ECR repository's ARN or CodeArtifact repository's ARN of the plan.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from guardrail_catalog import guardrail_ids

CATALOG_FILE = Path(__file__).with_name("scenarios.yaml")

# Which policy decided: the engine's policy types, with `key` for a KMS key policy (the
# resource policy of the key step) and `endpoint` for a VPC endpoint policy.
Layer = Literal["scp", "rcp", "identity", "boundary", "resource", "key", "endpoint"]


class CatalogError(ValueError):
    """The catalog is malformed, or names something the plan does not have."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principal(_Strict):
    """A role of the plan (`account` + `role`), or a principal outside the organization (`arn`,
    with the `org_id` of its own organization if any)."""

    account: str | None = None
    role: str | None = None
    arn: str | None = None
    org_id: str | None = None
    # A role the platform's naming rules reserve but no stack creates yet (MOD-1's
    # model-consumer roles): only with `identity: allow-all`, to prove the SCP side alone.
    planned: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Principal:
        if (self.account is None) != (self.role is None):
            raise ValueError("give account and role together")
        if (self.role is None) == (self.arn is None):
            raise ValueError("give either account + role (a role of the plan) or arn (an outside principal)")
        return self


class OutsideOwner(_Strict):
    """The owner of a resource outside the organization (an exfiltration target)."""

    account: str = Field(pattern=r"^\d{12}$")
    org_id: str | None = None


class Expectation(_Strict):
    decision: Literal["allowed", "denied"]
    # The policy layer that decides (for a denial: the layer whose statement or missing Allow
    # denies; for an allow: not checked).
    layer: Layer | None = None
    # A deciding explicit-deny statement's Sid must carry this guardrail id.
    guardrail: str | None = None

    @model_validator(mode="after")
    def _guardrail_denies(self) -> Expectation:
        if self.guardrail and self.decision != "denied":
            raise ValueError("guardrail names the statement that denies; only for decision: denied")
        return self


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    # Guardrail ids this scenario is evidence for (allowed or denied), for the coverage table.
    proves: list[str] = Field(default_factory=list)
    principal: Principal
    action: str = Field(pattern=r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
    resource: str
    # One scenario per bucket (KMS key, ECR repository, CodeArtifact repository) of the plan:
    # `{each}` in `resource` becomes each bucket's name (each key's or repository's ARN), and
    # the scenario's name gets `[<stack>/<logical name>]`.
    for_each: Literal["bucket", "key", "ecr", "codeartifact"] | None = None
    region: str | None = None
    # Request context: condition keys and their values, on top of what the principal and the
    # resource imply (aws:PrincipalArn, aws:PrincipalOrgID, aws:RequestedRegion, ...).
    context: dict[str, str | list[str]] = Field(default_factory=dict)
    # The request goes through the principal account's VPC endpoint for this service (`s3`,
    # `sagemaker.api`, ...): its policy applies and aws:SourceVpce / aws:SourceVpc are set.
    via_endpoint: str | None = None
    # The account whose VPC endpoint that is, when not the principal's: a role of one account
    # used from another account's VPC (a producer's per-consumer role, assumed from the consumer).
    endpoint_account: str | None = None
    # The resource belongs to an account outside the organization, whose policy is assumed to
    # let anybody in (the worst case: a bucket an insider exfiltrates to). Only the principal's
    # side of the request (identity, SCPs, the VPC endpoint) can stop it.
    resource_owner: OutsideOwner | None = None
    # An ECR repository or CodeArtifact resource must be in the plan (its policy decides, and a
    # misspelt one would be denied for the wrong reason); one created at run time (SageMaker's
    # repositories for Studio images) is named with the reason the plan cannot have it.
    runtime_resource: str | None = None
    # `plan`: the principal's identity policies and boundary as the plan declares them.
    # `allow-all`: the identity side is replaced by an allow-all policy, to test the other
    # layers in isolation; `isolation` must say why (shown in the report).
    identity: Literal["plan", "allow-all"] = "plan"
    isolation: str | None = None
    expect: Expectation
    # A known defect of the platform that makes this scenario mismatch: reported as KNOWN ISSUE
    # and not failing the run while it mismatches; once it matches, the run fails until the
    # note is removed (so a fixed defect cannot hide a later regression).
    known_issue: str | None = None

    @model_validator(mode="after")
    def _each_used(self) -> Scenario:
        if (self.for_each is None) == ("{each}" in self.resource):
            raise ValueError("for_each and {each} in resource go together")
        return self

    @model_validator(mode="after")
    def _runtime_resource_is_a_repository(self) -> Scenario:
        repository = self.resource.startswith(("arn:aws:ecr:", "arn:aws:codeartifact:", "{ecr:", "{codeartifact:"))
        if self.runtime_resource is not None and not repository:
            raise ValueError("runtime_resource is for an ECR or CodeArtifact resource the plan cannot have")
        return self

    @model_validator(mode="after")
    def _endpoint_account_with_endpoint(self) -> Scenario:
        if self.endpoint_account is not None and self.via_endpoint is None:
            raise ValueError("endpoint_account names whose via_endpoint the request uses; give via_endpoint too")
        return self

    @model_validator(mode="after")
    def _isolation_explained(self) -> Scenario:
        if self.principal.planned and self.identity != "allow-all":
            raise ValueError("principal.planned needs identity: allow-all (a planned role has no policies yet)")
        if self.identity == "allow-all" and not self.isolation:
            raise ValueError("identity: allow-all needs isolation: <why the identity side is left out>")
        if self.identity == "plan" and self.isolation:
            raise ValueError("isolation is only for identity: allow-all")
        return self


class Catalog(_Strict):
    scenarios: list[Scenario]


PLACEHOLDER = re.compile(r"\{(account|bucket|key|ecr|codeartifact):([^{}]+)\}|\{(org_id|region)\}")


def parse_catalog(data: object, source: str = "scenarios") -> Catalog:
    """Validate catalog data; every problem is reported at once. Top-level keys starting with
    `x-` hold YAML anchors shared by scenarios and are not part of the catalog."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as error:
        lines = [f"  - {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        raise CatalogError(f"{source}: {len(lines)} problem(s):\n" + "\n".join(lines)) from None
    problems = []
    names: set[str] = set()
    known = set(guardrail_ids())
    for i, s in enumerate(catalog.scenarios):
        if s.name in names:
            problems.append(f"  - scenarios[{i}].name: {s.name!r} is used twice")
        names.add(s.name)
        for g in [*s.proves, *([s.expect.guardrail] if s.expect.guardrail else [])]:
            if g not in known:
                problems.append(f"  - scenario {s.name!r}: {g!r} is not a guardrail id of guardrail_catalog/guardrails.yaml")
    if problems:
        raise CatalogError(f"{source}: {len(problems)} problem(s):\n" + "\n".join(problems))
    return catalog


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The scenario catalog from its YAML file."""
    return parse_catalog(yaml.safe_load(path.read_text()), str(path))
