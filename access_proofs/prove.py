"""Turn scenarios into IAM simulations from the plan, run them in one engine process, and
compare each decision with the catalog's expectation.

A scenario is one request, evaluated in one or two steps:

1. the request itself: the SCPs (and RCPs) on the OU path of the principal's (resource's)
   account, root first; the principal's identity policies and permissions boundary; the
   resource's policy (bucket, key or role trust policy); the VPC endpoint's policy when the
   request goes through one;
2. for S3 object reads and writes on a bucket encrypted with a KMS key, the KMS call S3 makes
   for the principal (`kms:Decrypt` / `kms:GenerateDataKey` with `kms:ViaService`), evaluated
   against the key policy, the principal's identity policies and SCPs.

The scenario is allowed only when every step is. The IAM evaluation itself is
`@cloud-copilot/iam-simulate`, run as a separate Node.js process (:mod:`access_proofs.engine`).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from access_proofs.catalog import Catalog, CatalogError, Scenario, PLACEHOLDER
from access_proofs.engine import run_simulations
from access_proofs.plan_index import (
    ALLOW_ALL,
    AWS_MANAGED_POLICIES,
    PlanIndex,
    build_index,
)
from guardrail_catalog import guardrail_ids

OUTSIDE_ORG_ID_DEFAULT = "o-outside00000"
_S3_READS = {"s3:GetObject", "s3:GetObjectVersion"}
_S3_WRITES = {"s3:PutObject"}
# The engine's policy types, as the catalog names layers.
_LAYER = {"scp": "scp", "rcp": "rcp", "identity": "identity", "pb": "boundary", "resource": "resource",
          "vpce": "endpoint", "s3-bpa": "resource"}


@dataclass
class Step:
    """One simulation of a scenario."""

    kind: str  # "request" or "key"
    simulation: dict[str, Any]


@dataclass
class Deciding:
    """A statement (or a missing Allow) that decided a step."""

    layer: str
    policy: str | None
    sid: str | None
    explicit: bool  # a statement decided (an Allow for allowed requests, a Deny for denied ones)
    guardrails: list[str]
    step: str = "request"  # "request", or "key" for the KMS call S3 makes
    statement: int | None = None  # 1-based index in its policy, for statements without a Sid

    def text(self) -> str:
        where = self.layer + (f" {self.policy}" if self.policy else "")
        if self.explicit:
            return f"{where}: {self.sid or f'statement {self.statement}'}"
        return f"{where}: no Allow"


@dataclass
class Outcome:
    scenario: Scenario
    decision: str  # allowed / denied / error
    deciding: list[Deciding] = field(default_factory=list)
    step: str = "request"  # the step that decided
    problems: list[str] = field(default_factory=list)
    ignored_context_keys: list[str] = field(default_factory=list)
    # (layer, guardrail id) of every statement of a guardrail layer (SCP, RCP, resource, key,
    # endpoint, boundary) whose actions cover the request, in the steps evaluated: the
    # guardrails the request met, whether they denied it or let it through.
    exercised: set[tuple[str, str]] = field(default_factory=set)

    @property
    def matches(self) -> bool:
        return not self.problems

    @property
    def ok(self) -> bool:
        """As expected, or a known issue that still mismatches."""
        if self.scenario.known_issue:
            return bool(self.problems)
        return not self.problems

    @property
    def status(self) -> str:
        if self.scenario.known_issue:
            return "KNOWN ISSUE" if self.problems else "KNOWN ISSUE RESOLVED"
        return "ok" if self.ok else "MISMATCH"

    def as_dict(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "name": s.name, "description": s.description, "proves": list(s.proves),
            "identity": s.identity, "isolation": s.isolation,
            "expected": s.expect.model_dump(exclude_none=True),
            "actual": {"decision": self.decision, "step": self.step,
                       "deciding": [d.__dict__ for d in self.deciding]},
            "ignoredContextKeys": self.ignored_context_keys,
            "exercised": sorted(f"{layer}:{g}" for layer, g in self.exercised),
            "ok": self.ok, "status": self.status, "knownIssue": s.known_issue, "problems": self.problems,
        }


def guardrails_in_sid(sid: str | None, ids: Sequence[str] | None = None) -> list[str]:
    """The guardrail ids a Sid starts with, in order: `SM7DenyEndpoints` -> [SM-7],
    `ORG1LOG1DenyChanges` -> [ORG-1, LOG-1]. Ids are written without the dash; a merged
    statement lists several. Matching is by prefix so renamed statements still trace back."""
    if not sid:
        return []
    compact = sorted(((i.replace("-", ""), i) for i in (ids or guardrail_ids())), key=lambda p: -len(p[0]))
    found, rest = [], sid
    while True:
        for prefix, gid in compact:
            if rest.startswith(prefix) and not rest[len(prefix):len(prefix) + 1].isdigit():
                found.append(gid)
                rest = rest[len(prefix):]
                break
        else:
            return found


# -- building simulations from the plan -----------------------------------------------------------


class _Resolver:
    """Placeholder resolution for one scenario; collects what the plan lacks."""

    def __init__(self, index: PlanIndex, region: str) -> None:
        self.index, self.region, self.missing = index, region, []

    def text(self, value: str) -> str:
        def replace(m: re.Match[str]) -> str:
            kind, ref, bare = m.group(1), m.group(2), m.group(3)
            if bare == "org_id":
                return self.index.organization_id
            if bare == "region":
                return self.region
            table = {"account": self.index.account_ids, "bucket": self.index.bucket_names,
                     "key": self.index.key_names, "ecr": self.index.ecr_names,
                     "codeartifact": self.index.codeartifact_names}[kind]
            if ref not in table:
                self.missing.append(f"{kind} {ref!r} is not in the plan (known: {', '.join(sorted(table))})")
                return m.group(0)
            return table[ref]
        return PLACEHOLDER.sub(replace, value)


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None


def _bucket_of(arn: str) -> str | None:
    return arn.split(":::", 1)[1].split("/", 1)[0] if arn.startswith("arn:aws:s3:::") else None


class _Builder:
    def __init__(self, index: PlanIndex) -> None:
        self.index = index

    def expand(self, scenario: Scenario) -> list[Scenario]:
        """The scenario, or one per bucket / key of the plan for `for_each`."""
        if scenario.for_each is None:
            return [scenario]
        names = {"bucket": self.index.bucket_names, "key": self.index.key_names, "ecr": self.index.ecr_names,
                 "codeartifact": self.index.codeartifact_repository_names}[scenario.for_each]
        return [scenario.model_copy(update={"name": f"{scenario.name}[{ref}]",
                                            "resource": scenario.resource.replace("{each}", value), "for_each": None})
                for ref, value in sorted(names.items())]

    def identity(self, scenario: Scenario, role_arn: str | None, problems: list[str]) -> tuple[list, list | None]:
        """(identity policies, boundary policies) of the principal."""
        if scenario.identity == "allow-all":
            return [{"name": "allow-all (isolation)", "policy": ALLOW_ALL}], None
        if role_arn is None:  # outside principal: its own account grants it everything
            return [{"name": "outside account's own policies (allow-all)", "policy": ALLOW_ALL}], None
        role = self.index.roles[role_arn]
        policies = [{"name": name, "policy": doc} for name, doc in role.inline]
        for arn in role.managed_arns:
            doc = AWS_MANAGED_POLICIES.get(arn) or self.index.managed_policies.get(arn)
            if doc is None:
                problems.append(f"managed policy {arn} of role {role.name} has no content in the plan "
                                "(AWS-managed policies known offline: "
                                f"{', '.join(sorted(AWS_MANAGED_POLICIES))})")
                continue
            policies.append({"name": arn.rsplit("/", 1)[-1], "policy": doc})
        boundary = None
        if role.boundary_arn:
            doc = AWS_MANAGED_POLICIES.get(role.boundary_arn) or self.index.managed_policies.get(role.boundary_arn)
            if doc is None:
                problems.append(f"permissions boundary {role.boundary_arn} of role {role.name} is not in the plan")
            else:
                boundary = [{"name": role.boundary_arn.rsplit("/", 1)[-1], "policy": doc}]
        return policies, boundary

    def steps(self, scenario: Scenario) -> tuple[list[Step], list[str]]:
        """The simulations for a scenario, or the problems that stop it from being built."""
        index, problems = self.index, []
        region = scenario.region or index.home_region
        resolve = _Resolver(index, region)
        p = scenario.principal
        role_arn: str | None = None
        if p.role is not None:
            account_id = index.account_id(p.account)
            if account_id is None:
                problems.append(f"principal account {p.account!r} is not in the plan "
                                f"(accounts: {', '.join(sorted(index.account_ids))})")
                return [], problems
            role_arn = f"arn:aws:iam::{account_id}:role/{p.role}"
            if role_arn not in index.roles and not p.planned:
                known = sorted(r.name for r in index.roles.values() if r.account == account_id)
                problems.append(f"principal role {p.role!r} is not in account {p.account} of the plan "
                                f"(roles there: {', '.join(known)})")
                return [], problems
            principal_arn, principal_account = role_arn, account_id
            principal_org: str | None = index.organization_id
        else:
            principal_arn = resolve.text(p.arn)
            principal_account = _arn_account(principal_arn) or ""
            if index.in_organization(principal_account):
                problems.append(f"principal {principal_arn} is in the organization: name it by account and role")
            principal_org = p.org_id or OUTSIDE_ORG_ID_DEFAULT
        resource = resolve.text(scenario.resource)
        context = {k: (resolve.text(v) if isinstance(v, str) else [resolve.text(x) for x in v])
                   for k, v in scenario.context.items()}
        problems += resolve.missing
        if resolve.missing:
            return [], problems

        outside = scenario.resource_owner
        if outside is not None and index.in_organization(outside.account):
            problems.append(f"resource_owner {outside.account} is an account of the organization")
            return [], problems
        bucket_name = _bucket_of(resource) if outside is None else None
        bucket = index.buckets.get(bucket_name) if bucket_name else None
        if bucket_name and bucket is None:
            problems.append(f"bucket {bucket_name!r} is not in the plan")
            return [], problems
        resource_policy: dict[str, Any] | None = None
        if outside is not None:
            resource_account = outside.account
            resource_policy = {"Version": "2012-10-17", "Statement": [
                {"Sid": "OutsideOwnerLetsAnybodyIn", "Effect": "Allow", "Principal": "*", "Action": "*",
                 "Resource": "*"}]}
        elif bucket is not None:
            resource_account, resource_policy = bucket.account, bucket.policy
        elif resource.startswith("arn:aws:kms:"):
            if resource not in index.keys:
                problems.append(f"KMS key {resource} is not in the plan")
                return [], problems
            resource_account, resource_policy = _arn_account(resource), index.keys[resource]
        elif resource.startswith("arn:aws:codeartifact:") or (resource.startswith("arn:aws:ecr:")
                                                                and ":repository/" in resource):
            # The repository's (domain's) policy decides; the plan must have it, or the scenario
            # says why it cannot (created at run time), and then it has no policy.
            repository = index.repository(resource)
            service = resource.split(":")[2]
            if repository is None and scenario.runtime_resource is None:
                known = sorted(a for a in index.repositories if a.split(":")[2] == service)
                kind = "ECR repository" if service == "ecr" else "CodeArtifact domain or repository"
                problems.append(f"{kind} of {resource} is not in the plan (known: {', '.join(known)}); "
                                "give runtime_resource: <why> for one created at run time")
                return [], problems
            if repository is not None and scenario.runtime_resource is not None:
                problems.append(f"runtime_resource: {resource} is in the plan; remove runtime_resource")
                return [], problems
            resource_account = repository.account if repository else _arn_account(resource) or principal_account
            resource_policy = repository.policy if repository else None
        elif scenario.action == "sts:AssumeRole":
            if resource not in index.roles:
                problems.append(f"role {resource} (to assume) is not in the plan")
                return [], problems
            resource_account, resource_policy = _arn_account(resource), index.roles[resource].trust
        else:
            resource_account = _arn_account(resource) or principal_account

        identity, boundary = self.identity(scenario, role_arn, problems)
        endpoint = None
        if scenario.via_endpoint:
            endpoint_account = principal_account
            if scenario.endpoint_account is not None:
                endpoint_account = index.account_id(scenario.endpoint_account) or ""
                if not endpoint_account:
                    problems.append(f"endpoint_account {scenario.endpoint_account!r} is not in the plan")
            endpoint = index.endpoint(endpoint_account, scenario.via_endpoint)
            if endpoint is None and endpoint_account:
                known = sorted(e.service for e in index.endpoints if e.account == endpoint_account)
                problems.append(f"no {scenario.via_endpoint!r} VPC endpoint in account "
                                f"{index.account_name(endpoint_account)} of the plan (endpoints: {', '.join(known)})")
        if problems:
            return [], problems

        base_context: dict[str, Any] = {
            "aws:PrincipalArn": principal_arn,
            "aws:PrincipalAccount": principal_account,
            "aws:RequestedRegion": region,
            "aws:SecureTransport": "true",
            "aws:PrincipalIsAWSService": "false",
            "aws:ViaAWSService": "false",
            "aws:ResourceAccount": resource_account,
        }
        if principal_org:
            base_context["aws:PrincipalOrgID"] = principal_org
        if index.in_organization(resource_account):
            base_context["aws:ResourceOrgID"] = index.organization_id
        elif outside is not None and outside.org_id:
            base_context["aws:ResourceOrgID"] = outside.org_id
        if endpoint is not None:
            base_context["aws:SourceVpce"] = endpoint.id
            if endpoint.vpc_id:
                base_context["aws:SourceVpc"] = endpoint.vpc_id
        in_member_account = index.in_organization(principal_account) and principal_account != index.management_account
        scps = index.org_levels(principal_account, index.scps, True) if in_member_account else []
        rcps = (index.org_levels(resource_account, index.rcps, False)
                if index.in_organization(resource_account) and resource_account != index.management_account
                and any(index.rcps.values()) else [])

        def simulation(action: str, target: str, policy: Any, ctx: Mapping[str, Any],
                       endpoint_policy: bool) -> dict[str, Any]:
            sim: dict[str, Any] = {
                "request": {"principal": principal_arn, "action": action,
                            "resource": {"resource": target, "accountId": resource_account},
                            "contextVariables": dict(ctx)},
                "identityPolicies": identity,
                "serviceControlPolicies": scps,
                "resourceControlPolicies": rcps,
            }
            if policy is not None:
                sim["resourcePolicy"] = policy
            if boundary:
                sim["permissionBoundaryPolicies"] = boundary
            if endpoint_policy and endpoint is not None and endpoint.policy is not None:
                sim["vpcEndpointPolicies"] = [{"name": endpoint.name, "policy": endpoint.policy}]
            return copy.deepcopy(sim)

        steps = [Step("request", simulation(scenario.action, resource, resource_policy,
                                            {**base_context, **context}, True))]
        if bucket is not None and bucket.kms_key_arn and "/" in resource.split(":::", 1)[1] \
                and scenario.action in _S3_READS | _S3_WRITES:
            key_arn = bucket.kms_key_arn
            if key_arn not in index.keys:
                problems.append(f"bucket {bucket.name}'s KMS key {key_arn} is not in the plan")
                return [], problems
            kms_action = "kms:Decrypt" if scenario.action in _S3_READS else "kms:GenerateDataKey"
            key_context = {**base_context, "aws:ViaAWSService": "true",
                           "aws:ResourceAccount": _arn_account(key_arn),
                           "kms:ViaService": f"s3.{region}.amazonaws.com",
                           "kms:CallerAccount": principal_account}
            key_context.pop("aws:SourceVpce", None)
            key_context.pop("aws:SourceVpc", None)
            step = simulation(kms_action, key_arn, index.keys[key_arn], key_context, False)
            step["request"]["resource"]["accountId"] = _arn_account(key_arn)
            steps.append(Step("key", step))
        return steps, problems


# -- interpreting results -----------------------------------------------------------------------


def _statements(doc: Any) -> list[dict[str, Any]]:
    statements = (doc or {}).get("Statement") or []
    return statements if isinstance(statements, list) else [statements]


def covers(statement: Mapping[str, Any], action: str) -> bool:
    """Whether a statement's Action (NotAction) covers the action; IAM's wildcards, no case."""
    def listed(key: str) -> bool:
        patterns = statement.get(key)
        patterns = [patterns] if isinstance(patterns, str) else patterns or []
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)
    return listed("Action") if "Action" in statement else "NotAction" in statement and not listed("NotAction")


def exercised_guardrails(step: Step, ids: Sequence[str]) -> set[tuple[str, str]]:
    """(layer, guardrail id) of the statements of the step's guardrail layers (not the
    identity policies) that cover its action, whatever their conditions decide."""
    sim = step.simulation
    action = sim["request"]["action"]
    on_key = step.kind == "key" or sim["request"]["resource"]["resource"].startswith("arn:aws:kms:")
    documents: list[tuple[str, Any]] = []
    for layer, key in (("scp", "serviceControlPolicies"), ("rcp", "resourceControlPolicies")):
        documents += [(layer, p["policy"]) for level in sim.get(key) or [] for p in level["policies"]]
    documents += [("endpoint", p["policy"]) for p in sim.get("vpcEndpointPolicies") or []]
    documents += [("boundary", p["policy"]) for p in sim.get("permissionBoundaryPolicies") or []]
    if sim.get("resourcePolicy"):
        documents.append(("key" if on_key else "resource", sim["resourcePolicy"]))
    return {(layer, g) for layer, doc in documents for st in _statements(doc) if covers(st, action)
            for g in guardrails_in_sid(st.get("Sid"), ids)}


def _deciding(result: Mapping[str, Any], step: Step, ids: Sequence[str]) -> list[Deciding]:
    kind = step.kind
    # A key's resource policy is its key policy, whether S3 calls KMS or the principal does.
    on_key = kind == "key" or step.simulation["request"]["resource"]["resource"].startswith("arn:aws:kms:")
    out = []
    if result.get("overallResult") == "Allowed":
        for g in result.get("grants") or []:
            layer = "key" if on_key and g["policyType"] == "resource" else _LAYER.get(g["policyType"], g["policyType"])
            out.append(Deciding(layer, g.get("policyIdentifier") or g.get("orgIdentifier"), g.get("statementId"),
                                True, guardrails_in_sid(g.get("statementId"), ids), kind, g.get("statementIndex")))
        return out
    for d in result.get("denials") or []:
        layer = "key" if on_key and d["policyType"] == "resource" else _LAYER.get(d["policyType"], d["policyType"])
        explicit = d.get("denialType") == "Explicit"
        policy = d.get("policyIdentifier") or d.get("identifier")
        out.append(Deciding(layer, policy, d.get("statementId"), explicit, guardrails_in_sid(d.get("statementId"), ids),
                            kind, d.get("statementIndex")))
    request = step.simulation["request"]
    if not out and "resourcePolicy" not in step.simulation \
            and _arn_account(request["principal"]) != request["resource"]["accountId"]:
        # The engine names no reason when a cross-account request meets a resource without a
        # policy: the resource side lacks the Allow the other account needs.
        out.append(Deciding("key" if on_key else "resource", "(none: the resource has no policy)", None, False, [],
                            kind))
    # Explicit denials first: they decide whatever else is missing.
    return sorted(out, key=lambda x: not x.explicit)


def _judge(scenario: Scenario, steps: Sequence[Step], results: Sequence[Mapping[str, Any]],
           ids: Sequence[str]) -> Outcome:
    outcome = Outcome(scenario, "allowed")
    for step, result in zip(steps, results):
        outcome.ignored_context_keys += result.get("ignoredContextKeys") or []
        outcome.exercised |= exercised_guardrails(step, ids)
        if result.get("resultType") == "error":
            outcome.decision = "error"
            outcome.step = step.kind
            errors = dict(result.get("errors") or {})
            message = errors.pop("message", "")
            detail = f" {json.dumps(errors, sort_keys=True)[:400]}" if errors else ""
            outcome.problems.append(f"the engine rejected the {step.kind} simulation ({scenario.action} on "
                                    f"{step.simulation['request']['resource']['resource']}): {message}{detail}")
            return outcome
        if result.get("overallResult") != "Allowed":
            outcome.decision, outcome.step = "denied", step.kind
            outcome.deciding = _deciding(result, step, ids)
            break
        outcome.deciding += _deciding(result, step, ids)
    else:
        outcome.step = steps[-1].kind
    expect = scenario.expect
    if outcome.decision != expect.decision:
        outcome.problems.append(f"expected {expect.decision}, got {outcome.decision}")
    elif expect.decision == "denied":
        if expect.layer and not any(d.layer == expect.layer for d in outcome.deciding):
            outcome.problems.append(f"expected the denial from the {expect.layer} layer, got "
                                    f"{'; '.join(d.text() for d in outcome.deciding)}")
        if expect.guardrail and not any(d.explicit and expect.guardrail in d.guardrails for d in outcome.deciding):
            outcome.problems.append(f"expected a {expect.guardrail} statement to deny, got "
                                    f"{'; '.join(d.text() for d in outcome.deciding)}")
    return outcome


@dataclass
class ProofRun:
    engine: str
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def prove(plan: Mapping[str, Any], catalog: Catalog, engine_dir: Any = None) -> ProofRun:
    """Evaluate every scenario of `catalog` against `plan` in one engine process.

    Raises CatalogError listing every scenario that names something the plan does not have.
    """
    return prove_many([plan], catalog, engine_dir)[0]


def prove_many(plans: Sequence[Mapping[str, Any]], catalog: Catalog, engine_dir: Any = None) -> list[ProofRun]:
    """:func:`prove` for several plans (e.g. mutations of one) with a single engine process."""
    ids = guardrail_ids()
    batch: list[dict[str, Any]] = []
    # Plans that differ in one document (mutations) share most simulations: each distinct
    # simulation is evaluated once.
    unique: dict[str, str] = {}
    alias: dict[str, str] = {}
    prepared = []
    for n, plan in enumerate(plans):
        builder = _Builder(build_index(plan))
        problems, built = [], []
        for scenario in (e for s in catalog.scenarios for e in builder.expand(s)):
            steps, trouble = builder.steps(scenario)
            if trouble:
                problems += [f"  - scenario {scenario.name!r}: {t}" for t in trouble]
                continue
            built.append((scenario, steps))
            for k, step in enumerate(steps):
                key = json.dumps(step.simulation, sort_keys=True)
                if key not in unique:
                    unique[key] = f"{n}/{scenario.name}/{k}"
                    batch.append({"id": unique[key], "simulation": step.simulation})
                alias[f"{n}/{scenario.name}/{k}"] = unique[key]
        if problems:
            raise CatalogError(f"{len(problems)} scenario problem(s) against the plan:\n" + "\n".join(problems))
        prepared.append(built)
    engine, results = run_simulations(batch, engine_dir)
    by_id = {r["id"]: r for r in results}
    runs = []
    for n, built in enumerate(prepared):
        outcomes = [_judge(s, steps, [by_id[alias[f"{n}/{s.name}/{k}"]] for k in range(len(steps))], ids)
                    for s, steps in built]
        runs.append(ProofRun(engine, outcomes))
    return runs
