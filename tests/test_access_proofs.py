"""Access proofs: the scenario catalog evaluated against the sample plan by the IAM engine
(`@cloud-copilot/iam-simulate`, a separate Node.js process installed by `make test`).

Each test that evaluates starts one engine process for all its plans and scenarios."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from access_proofs.__main__ import main
from access_proofs.catalog import CatalogError, load_catalog, parse_catalog
from access_proofs.coverage import evidence, gaps, guardrail_statements, required_guardrails
from access_proofs.plan_index import (
    BUCKET_POLICY,
    ECR_REPOSITORY_POLICY,
    ROLE,
    ORG_POLICY,
    STACK_SET,
    VPC_ENDPOINT,
    build_index,
    plan_from_runs,
)
from access_proofs.prove import ProofRun, guardrails_in_sid, prove, prove_many
from access_proofs.report import coverage, markdown, table
from guardrail_catalog import catalog as guardrail_catalog
from offline_preview.engine import discover_stacks
from tests.conftest import SAMPLE_DIR

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def sample_plan(sample_runs: Callable[[str], Any]) -> dict[str, Any]:
    """The plan of every sample stack, as plan.json has it."""
    return plan_from_runs(sample_runs(s) for s in discover_stacks(SAMPLE_DIR))


@pytest.fixture(scope="module")
def sample_proof(sample_plan: dict[str, Any]) -> Any:
    """The catalog proved against the sample plan, once for the module."""
    return prove(sample_plan, CATALOG)


def _by_name(run: Any) -> dict[str, Any]:
    return {o.scenario.name: o for o in run.outcomes}


def _resource(plan: dict[str, Any], typ: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    found = [r for s in plan["stacks"] for r in s["resources"] if r["type"] == typ and match(r)]
    assert len(found) == 1, f"{len(found)} {typ} resources match"
    return found[0]


def _edit_document(resource: dict[str, Any], key: str, edit: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(resource["inputs"][key])
    edit(doc)
    resource["inputs"][key] = json.dumps(doc)


def _account(plan: dict[str, Any], name: str) -> str:
    organization = next(s for s in plan["stacks"] if s["name"] == "organization")
    return organization["outputs"]["accountIds"][name]


# The SCP library is matched by guardrail id, never by exact Sid or policy name: statements
# may be renamed, merged (a Sid carrying several ids) or packed differently.


def _carries(statement: dict[str, Any], guardrail: str) -> bool:
    return guardrail in guardrails_in_sid(statement.get("Sid"))


def _scps(plan: dict[str, Any], guardrail: str, target: str | None = None) -> list[dict[str, Any]]:
    """The SCP resources with a statement carrying `guardrail` (attached to OU path `target`)."""
    organization = next(s for s in plan["stacks"] if s["name"] == "organization")
    attached = None
    if target is not None:
        target_id = organization["outputs"]["ouIds"][target]
        attached = {r["inputs"]["policyId"] for r in organization["resources"]
                    if r["type"] == "aws:organizations/policyAttachment:PolicyAttachment"
                    and r["inputs"]["targetId"] == target_id}
    found = [r for r in organization["resources"] if r["type"] == ORG_POLICY
             and r["inputs"]["type"] == "SERVICE_CONTROL_POLICY" and (attached is None or r["id"] in attached)
             and any(_carries(st, guardrail) for st in json.loads(r["inputs"]["content"])["Statement"])]
    assert found, f"no SCP carries {guardrail}" + (f" on {target}" if target else "")
    return found


def _edit_statements(resources: list[dict[str, Any]], key: str, guardrail: str,
                     edit: Callable[[dict[str, Any]], None]) -> None:
    for resource in resources:
        def each(doc: dict[str, Any]) -> None:
            for st in doc["Statement"]:
                if _carries(st, guardrail):
                    edit(st)
        _edit_document(resource, key, each)


def _bucket_policy(plan: dict[str, Any], bucket_part: str) -> dict[str, Any]:
    return _resource(plan, BUCKET_POLICY, lambda r: r["inputs"]["bucket"].startswith(f"mrd-{bucket_part}-"))


def test_sample_plan_proves_every_scenario(sample_proof: Any) -> None:
    run = sample_proof
    assert run.ok, table(run)
    outcomes = _by_name(run)
    # The deciding statements are the guardrails' own: the report traces back to the catalog.
    assert "SM-7" in outcomes["endpoint-created-in-dev"].deciding[0].guardrails
    assert outcomes["deployer-loosens-log-archive-policy"].deciding[0].layer == "resource"
    # Cross-account reads decide in two steps: the bucket, then the domain key S3 uses.
    assert any(d.layer == "key" for d in outcomes["auditor-reads-log-file"].deciding)
    assert any(d.layer == "endpoint" for d in outcomes["consumer-reads-curated-transactions"].deciding)
    # An outside bucket that lets anybody in: the endpoint policy is what stops the write.
    assert [d.layer for d in outcomes["insider-writes-to-foreign-bucket"].deciding] == ["endpoint"]
    # The member accounts' break-glass role comes from the baseline StackSet's template.
    assert any(d.layer == "resource" for d in outcomes["management-break-glass-reaches-member-account"].deciding)


def test_every_guardrail_with_an_scp_or_resource_policy_side_has_an_allowed_and_a_denied_scenario(
        sample_plan: dict[str, Any], sample_proof: Any) -> None:
    """The guardrail catalog's SCP guardrails and every id a Sid of the plan's SCPs or
    resource-side policies carries: each has a scenario its statements let through and one they
    deny (access_proofs.coverage says what counts)."""
    required = required_guardrails(sample_plan)
    catalog_scp = {g.id for g in guardrail_catalog().guardrails if g.scp is not None and not g.scp.optional}
    # Both sources are read: the catalog's SCP column and the plan's bucket policies' Sids.
    assert catalog_scp <= set(required) and {"S3-4", "LOG-2"} <= set(required)
    assert "aws:s3/bucketPolicy:BucketPolicy" in required["S3-4"]
    missing = gaps(sample_plan, sample_proof)
    assert not missing, "guardrails without an allowed and a denied scenario:\n" + "\n".join(
        f"  {g}: {what}" for g, what in missing.items())


def test_a_guardrail_lacking_a_side_of_evidence_is_named(sample_plan: dict[str, Any], sample_proof: Any) -> None:
    """Without its allowed scenario SM-7 is a gap; without every scenario, every guardrail is."""
    allowed_sm7 = set(evidence(sample_plan, sample_proof, ["SM-7"])["SM-7"]["allowed"])
    assert allowed_sm7 == {"endpoint-created-in-prod"}
    run = ProofRun(sample_proof.engine, [o for o in sample_proof.outcomes if o.scenario.name not in allowed_sm7])
    assert gaps(sample_plan, run) == {"SM-7": "no allowed scenario (its side: SCP mrd-guardrails-sandbox-1; "
                                                "SCP mrd-guardrails-workloads-dev-1; catalog: SCP on Sandbox, Workloads/Dev)"}
    nothing = gaps(sample_plan, ProofRun(sample_proof.engine, []))
    assert set(nothing) == set(required_guardrails(sample_plan))
    assert nothing["S3-4"].startswith("no allowed scenario and no denied scenario (its side: aws:s3/bucketPolicy")


def test_a_claim_without_the_guardrails_statement_is_no_evidence(sample_plan: dict[str, Any], sample_proof: Any) -> None:
    """`proves` alone does not count: the scenario must meet a statement carrying the id (or,
    allowed, make a request the guardrail's statements cover where they do not apply)."""
    found = evidence(sample_plan, sample_proof, ["CI-2", "SM-7", "IAM-3"])
    # Assuming role B is not what CI-2's statements are about, though the scenario claims CI-2.
    assert "pipeline-role-a-assumes-role-b" not in found["CI-2"]["allowed"]
    assert "pipeline-starts-its-build" in found["CI-2"]["allowed"]  # StartBuild meets CI-2 and passes
    assert "endpoint-created-in-prod" in found["SM-7"]["allowed"]  # SM-7's request, where it is not attached
    # The break-glass exemption lives in other guardrails' conditions, not in IAM-3's statements.
    assert "baseline-updates-break-glass-trust" in found["IAM-3"]["allowed"]
    assert "break-glass-leaves-organization" not in found["IAM-3"]["allowed"]


def test_required_guardrails_come_from_the_catalog_and_the_plans_policies(sample_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(sample_plan)
    # An SCP guardrail of the catalog stays required when the plan loses its statements.
    _edit_statements(_scps(plan, "SM-8"), "content", "SM-8", lambda st: st.update(Sid="LimitInstanceTypes"))
    assert "SM-8" not in guardrail_statements(plan)
    assert required_guardrails(plan)["SM-8"] == {"catalog: SCP on Workloads, Sandbox"}
    # A resource-side statement carrying an id makes it required: a repository policy's Sid.
    repository = _resource(plan, ECR_REPOSITORY_POLICY, lambda r: r["inputs"]["repository"] == "base/python")
    _edit_document(repository, "policy", lambda doc: doc["Statement"][0].update(Sid="NET2PullOverEndpoints"))
    assert required_guardrails(plan)["NET-2"] == {ECR_REPOSITORY_POLICY}
    # Identity policies are no guardrail side, whatever their Sids say.
    role_policy = next(r for st in plan["stacks"] for r in st["resources"] if r["type"] == "aws:iam/rolePolicy:RolePolicy")
    _edit_document(role_policy, "policy", lambda doc: doc["Statement"][0].update(Sid="NET5IdentityStatement"))
    assert "NET-5" not in required_guardrails(plan)
    # The optional SM-9 only once the plan attaches it.
    assert "SM-9" not in required_guardrails(sample_plan)


def test_known_issue_stays_known_until_fixed(sample_plan: dict[str, Any]) -> None:
    """A known issue that stops mismatching fails the run, so its note cannot outlive the fix."""
    (safe,) = [s for s in CATALOG.scenarios if s.name == "notebook-with-safe-values"]
    noted = parse_catalog({"scenarios": [safe.model_dump(exclude_none=True) | {"known_issue": "SM-1 misfires."}]})
    broken = copy.deepcopy(sample_plan)

    def deprecated_key_only(statement: dict[str, Any]) -> None:
        # The defect SM-1 had: its Null test on the deprecated key, which AWS no longer sets.
        null = statement.get("Condition", {}).get("Null", {})
        if null.pop("sagemaker:VolumeKmsKeyArn", None):
            null["sagemaker:VolumeKmsKey"] = "true"
    _edit_statements(_scps(broken, "SM-1"), "content", "SM-1", deprecated_key_only)
    before, after = prove(broken, noted), prove(sample_plan, noted)
    (known,) = before.outcomes
    assert known.status == "KNOWN ISSUE" and before.ok
    (resolved,) = after.outcomes
    assert resolved.status == "KNOWN ISSUE RESOLVED" and not resolved.ok and not after.ok


def test_guardrail_ids_are_read_from_sid_prefixes() -> None:
    assert guardrails_in_sid("SM7DenyEndpoints") == ["SM-7"]
    assert guardrails_in_sid("ORG1LOG1DenyOrganizationAndTrail") == ["ORG-1", "LOG-1"]
    assert guardrails_in_sid("S34DenyInsecureTransport") == ["S3-4"]
    assert guardrails_in_sid("S31DenyAccountPublicAccessChanges") == ["S3-1"]
    assert guardrails_in_sid("DenyReadExceptGrantedRoles") == []
    assert guardrails_in_sid(None) == []


# -- mutations: drop or widen a guardrail in the plan, and its scenarios flip ---------------------


def _drop_statement(sid: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        before = len(doc["Statement"])
        doc["Statement"] = [st for st in doc["Statement"] if st.get("Sid") != sid]
        assert len(doc["Statement"]) == before - 1, sid
    return edit


def _mutations(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    no_sm7 = copy.deepcopy(plan)  # SM-7 gone from Workloads/Dev (the sandbox keeps its own copy)
    for scp in _scps(no_sm7, "SM-7", target="Workloads/Dev"):
        _edit_document(scp, "content", lambda doc: doc.update(
            Statement=[st for st in doc["Statement"] if not _carries(st, "SM-7")]))
    out["no-sm7"] = no_sm7

    wide_lake = copy.deepcopy(plan)  # curated transactions readable by anyone

    def widen(doc: dict[str, Any]) -> None:
        _drop_statement("DenyReadExceptGrantedRoles")(doc)
        for st in doc["Statement"]:
            if st.get("Sid") == "ConsumersReadOnly":
                st["Principal"] = "*"
                st.pop("Condition")
    _edit_document(_bucket_policy(wide_lake, "data-lake-transactions-curated"), "policy", widen)
    out["wide-lake"] = wide_lake

    no_log2 = copy.deepcopy(plan)  # the log archive's bucket policy without its LOG-2 deny
    _edit_document(_bucket_policy(no_log2, "log-archive"), "policy", _drop_statement("LOG2DenyDeleteOrLoosen"))
    out["no-log2-bucket"] = no_log2

    exempt_persona = copy.deepcopy(plan)  # ORG-1's exemption widened to a persona

    def exempt(statement: dict[str, Any]) -> None:
        arn_not_like = statement["Condition"]["ArnNotLike"]
        key = next(k for k in arn_not_like if k.lower() == "aws:principalarn")
        arn_not_like[key] = [*arn_not_like[key], "arn:aws:iam::*:role/*data-scientist"]
    _edit_statements(_scps(exempt_persona, "ORG-1"), "content", "ORG-1", exempt)
    out["exempt-persona"] = exempt_persona

    open_key = copy.deepcopy(plan)  # the transactions key's readers statement open to anybody
    key = _resource(open_key, "aws:kms/key:Key", lambda r: r["name"] == "domain-transactions-key")

    def open_readers(doc: dict[str, Any]) -> None:
        for st in doc["Statement"]:
            if st.get("Sid") == "DataReadersThroughS3":
                st["Principal"] = "*"
                st.pop("Condition")
    _edit_document(key, "policy", open_readers)
    out["open-domain-key"] = open_key

    open_endpoint = copy.deepcopy(plan)  # fraud-detection dev's S3 endpoint open to any bucket

    def any_bucket(doc: dict[str, Any]) -> None:
        for st in doc["Statement"]:
            if st.get("Sid") == "PlatformBucketsFromOrganization":
                st["Resource"] = "*"
                del st["Condition"]["StringEquals"]["aws:ResourceOrgID"]
    endpoint = _resource(open_endpoint, VPC_ENDPOINT, lambda r: r["account"] == _account(plan, "fraud-detection-dev")
                         and r["inputs"].get("serviceName", "").endswith(".s3"))
    _edit_document(endpoint, "policy", any_bucket)
    out["open-s3-endpoint"] = open_endpoint

    broad_trust = copy.deepcopy(plan)  # the member accounts' break-glass role trusted without MFA
    stack_set = _resource(broad_trust, STACK_SET, lambda r: "BreakGlassRole" in r["inputs"]["templateBody"])

    def no_mfa(template: dict[str, Any]) -> None:
        for st in template["Resources"]["BreakGlassRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            del st["Condition"]["Bool"]
    _edit_document(stack_set, "templateBody", no_mfa)
    out["break-glass-without-mfa"] = broad_trust

    broad_role_b = copy.deepcopy(plan)  # role B trusted by every principal of the organization
    role_b = _resource(broad_role_b, ROLE, lambda r: r["inputs"].get("name") == "mrd-fraud-detection-deploy-training")

    def whole_organization(doc: dict[str, Any]) -> None:
        doc["Statement"] = [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                             "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}}}]
    organization_id = next(s for s in plan["stacks"] if s["name"] == "organization")["outputs"]["organizationId"]
    _edit_document(role_b, "assumeRolePolicy", whole_organization)
    out["broad-role-b-trust"] = broad_role_b

    def repository_policy(mutant: dict[str, Any], name: str) -> dict[str, Any]:
        return _resource(mutant, ECR_REPOSITORY_POLICY, lambda r: r["inputs"]["repository"] == name)

    wide_push = copy.deepcopy(plan)  # framework/pytorch's push statement open to every organization account

    def push_by_organization(doc: dict[str, Any]) -> None:
        pull, push = (next(st for st in doc["Statement"] if st["Sid"] == sid)
                      for sid in ("ECR2PullFromOrganizationAccounts", "PushByPipelineRoles"))
        push["Principal"] = pull["Principal"]
        del push["Condition"]["ArnEquals"]
    _edit_document(repository_policy(wide_push, "framework/pytorch"), "policy", push_by_organization)
    out["wide-ecr-push"] = wide_push

    public_pull = copy.deepcopy(plan)  # base/python pullable by anyone (no organization condition)

    def anyone_pulls(doc: dict[str, Any]) -> None:
        for st in doc["Statement"]:
            if st["Sid"] == "ECR2PullFromOrganizationAccounts":
                st["Principal"] = "*"
                del st["Condition"]
    _edit_document(repository_policy(public_pull, "base/python"), "policy", anyone_pulls)
    out["public-ecr-pull"] = public_pull

    no_ecr2_sids = copy.deepcopy(plan)  # the repositories' pull statements lose ECR-2 from their Sid

    def drop_ecr2(doc: dict[str, Any]) -> None:
        for st in doc["Statement"]:
            if st["Sid"] == "ECR2PullFromOrganizationAccounts":
                st["Sid"] = "PullFromOrganizationAccounts"
    for stack in no_ecr2_sids["stacks"]:
        for resource in stack["resources"]:
            if resource["type"] == ECR_REPOSITORY_POLICY:
                _edit_document(resource, "policy", drop_ecr2)
    out["no-ecr2-sids"] = no_ecr2_sids

    renamed = copy.deepcopy(plan)  # the SCP library merges and renames statements: still traced

    def rename(statement: dict[str, Any]) -> None:
        statement["Sid"] = "SM7SM8MergedEndpointAndInstanceRules"
    _edit_statements(_scps(renamed, "SM-7"), "content", "SM-7", rename)
    out["renamed-sids"] = renamed
    return out


def test_dropped_or_widened_guardrails_flip_their_scenarios(sample_plan: dict[str, Any], sample_proof: Any) -> None:
    mutations = _mutations(sample_plan)
    runs = dict(zip(mutations, prove_many(list(mutations.values()), CATALOG)))

    def mismatched(name: str) -> set[str]:
        return {o.scenario.name for o in runs[name].outcomes if not o.ok}

    assert mismatched("no-sm7") == {"endpoint-created-in-dev", "endpoint-invoked-in-dev"}
    assert mismatched("wide-lake") == {"other-project-reads-transactions", "outsider-reads-curated-transactions",
                                       "outsider-reads-every-bucket[data-lake/domain-transactions-curated]"}
    assert mismatched("no-log2-bucket") == {"deployer-loosens-log-archive-policy",
                                            "deployer-shortens-log-archive-lifecycle", "deployer-deletes-log-file"}
    # ORG-1 shares its statement with LOG-1 and LOG-3's retention call (same shape, merged by
    # the packer): widening that statement's exemption opens exactly what it carries.
    assert mismatched("exempt-persona") == {"persona-leaves-organization", "persona-stops-cloudtrail"}
    assert mismatched("open-domain-key") == {"outsider-decrypts-with-domain-key",
                                             "outsider-decrypts-with-every-key[data-lake/domain-transactions-key]"}
    assert mismatched("open-s3-endpoint") == {"insider-writes-to-foreign-bucket"}
    assert mismatched("break-glass-without-mfa") == {"management-break-glass-without-mfa"}
    # Role B's broader trust lets in every organization principal that may call AssumeRole.
    assert mismatched("broad-role-b-trust") == {"data-scientist-assumes-role-b", "build-role-assumes-role-b"}
    # The data scientist's own session stays denied by its identity policy (no ECR push there).
    assert mismatched("wide-ecr-push") == {"data-scientist-pushes-framework-image-with-broad-policy"}
    assert mismatched("public-ecr-pull") == {"outsider-pulls-every-repository[shared-services/ecr-base-python]"}
    assert mismatched("renamed-sids") == set()
    # An Allow statement carrying a guardrail id (the repositories' pull statement, ECR-2): the
    # pulls it lets through and the outsider's pull it does not (the missing Allow of its layer)
    # are both evidence for ECR-2; without the id in its Sid, nothing traces the pulls to it.
    assert mismatched("no-ecr2-sids") == set()
    def ecr2_repository_sources(plan: dict[str, Any]) -> set[str]:
        return {s for s in required_guardrails(plan).get("ECR-2", ()) if s.startswith(ECR_REPOSITORY_POLICY)}
    assert ecr2_repository_sources(sample_plan) and not ecr2_repository_sources(mutations["no-ecr2-sids"])
    ecr2 = evidence(sample_plan, sample_proof, ["ECR-2"])["ECR-2"]
    assert "preprod-training-pulls-framework-image" in ecr2["allowed"]
    assert "outsider-pulls-every-repository[shared-services/ecr-base-python]" in ecr2["denied"]
    # A push is no pull: the pull statement does not cover PutImage.
    assert "data-scientist-pushes-framework-image-with-broad-policy" not in ecr2["denied"]
    flipped = _by_name(runs["no-sm7"])["endpoint-created-in-dev"]
    assert flipped.decision == "allowed" and "expected denied, got allowed" in flipped.problems[0]


# -- bad input -------------------------------------------------------------------------------------


def _scenario(**overrides: Any) -> dict[str, Any]:
    base = {"name": "probe", "description": "probe", "principal": {"account": "fraud-detection-dev",
            "role": "mrd-fraud-detection-dev-data-scientist"}, "action": "s3:GetObject",
            "resource": "arn:aws:s3:::{bucket:data-lake/domain-transactions-curated}/x", "expect": {"decision": "denied"}}
    return {**base, **overrides}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"principal": {"account": "fraud-detection-qa", "role": "x"}}, "principal account 'fraud-detection-qa' is not in the plan"),
    ({"principal": {"account": "fraud-detection-dev", "role": "mrd-fraud-detection-dev-pipeline-a"}},
     "principal role 'mrd-fraud-detection-dev-pipeline-a' is not in account fraud-detection-dev"),
    ({"resource": "arn:aws:s3:::{bucket:shared-services/ecr-artifacts}/x"}, "bucket 'shared-services/ecr-artifacts' is not in the plan"),
    ({"resource": "arn:aws:s3:::{account:automation-prod}/x"}, "account 'automation-prod' is not in the plan"),
    ({"resource": "arn:aws:s3:::somebody-elses-bucket/x"}, "bucket 'somebody-elses-bucket' is not in the plan"),
    ({"via_endpoint": "rekognition"}, "no 'rekognition' VPC endpoint in account fraud-detection-dev"),
    ({"via_endpoint": "s3", "endpoint_account": "fraud-detection-qa"}, "endpoint_account 'fraud-detection-qa' is not in the plan"),
    ({"principal": {"arn": "arn:aws:iam::{account:data-lake}:role/mrd-data-engineer"}},
     "principal arn:aws:iam::480303664003:role/mrd-data-engineer is in the organization: name it by account and role"),
    ({"action": "ecr:BatchGetImage", "resource": "arn:aws:ecr:{region}:{account:shared-services}:repository/framework/jax"},
     "ECR repository of arn:aws:ecr:eu-west-1:183599998298:repository/framework/jax is not in the plan"),
    ({"action": "ecr:BatchGetImage", "resource": "{ecr:shared-services/ecr-framework-jax}"},
     "ecr 'shared-services/ecr-framework-jax' is not in the plan"),
    ({"action": "codeartifact:PublishPackageVersion",
      "resource": "arn:aws:codeartifact:{region}:{account:shared-services}:package/mrd/public/generic/ns/lib"},
     "CodeArtifact domain or repository of arn:aws:codeartifact:eu-west-1:183599998298:package/mrd/public/generic/ns/lib is not in the plan"),
    ({"action": "codeartifact:ReadFromRepository", "resource": "{codeartifact:shared-services/packages-public}"},
     "codeartifact 'shared-services/packages-public' is not in the plan"),
    ({"action": "ecr:BatchGetImage", "resource": "{ecr:shared-services/ecr-base-python}",
      "runtime_resource": "SageMaker creates it."}, "is in the plan; remove runtime_resource"),
    ({"action": "kms:Decrypt", "resource": "arn:aws:kms:{region}:{account:data-lake}:key/00000000-0000-0000-0000-000000000000"},
     "KMS key arn:aws:kms:eu-west-1:480303664003:key/00000000-0000-0000-0000-000000000000 is not in the plan"),
    ({"action": "sts:AssumeRole", "resource": "arn:aws:iam::{account:fraud-detection-prod}:role/mrd-nobody"},
     "role arn:aws:iam::381632194264:role/mrd-nobody (to assume) is not in the plan"),
])
def test_a_scenario_naming_what_the_plan_lacks_fails_with_its_name(
        sample_plan: dict[str, Any], overrides: dict[str, Any], message: str) -> None:
    catalog = parse_catalog({"scenarios": [_scenario(**overrides)]})
    with pytest.raises(CatalogError) as error:
        prove(sample_plan, catalog)
    assert "scenario 'probe'" in str(error.value) and message in str(error.value)


def test_for_each_expands_over_every_bucket_of_the_plan(sample_proof: Any, sample_plan: dict[str, Any]) -> None:
    expanded = [o for o in sample_proof.outcomes if o.scenario.name.startswith("outsider-reads-every-bucket[")]
    assert len(expanded) == len(build_index(sample_plan).buckets) > 20
    assert "outsider-reads-every-bucket[security/log-archive-bucket]" in {o.scenario.name for o in expanded}


def test_an_outside_owner_must_be_outside_the_organization(sample_plan: dict[str, Any]) -> None:
    catalog = parse_catalog({"scenarios": [_scenario(resource="arn:aws:s3:::drop/x", resource_owner={
        "account": _account(sample_plan, "data-lake")})]})
    with pytest.raises(CatalogError, match=r"scenario 'probe': resource_owner \d{12} is an account of the organization"):
        prove(sample_plan, catalog)


def test_every_bad_scenario_is_reported_at_once(sample_plan: dict[str, Any]) -> None:
    catalog = parse_catalog({"scenarios": [
        _scenario(name="one", principal={"account": "nowhere", "role": "x"}),
        _scenario(name="two", resource="arn:aws:s3:::{bucket:data-lake/nothing}/x"),
    ]})
    with pytest.raises(CatalogError) as error:
        prove(sample_plan, catalog)
    assert "2 scenario problem(s)" in str(error.value)
    assert "scenario 'one'" in str(error.value) and "scenario 'two'" in str(error.value)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"identity": "allow-all"}, "identity: allow-all needs isolation"),
    ({"proves": ["SM-42"]}, "'SM-42' is not a guardrail id"),
    ({"expect": {"decision": "allowed", "guardrail": "SM-7"}}, "only for decision: denied"),
    ({"principal": {"role": "x"}}, "give account and role together"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"for_each": "bucket"}, "for_each and {each} in resource go together"),
    ({"resource": "arn:aws:s3:::{each}/x"}, "for_each and {each} in resource go together"),
    ({"runtime_resource": "created later"}, "runtime_resource is for an ECR or CodeArtifact resource"),
    ({"for_each": "repository", "resource": "{each}"}, "for_each: Input should be 'bucket', 'key', 'ecr' or 'codeartifact'"),
])
def test_a_malformed_catalog_names_the_problem(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError) as error:
        parse_catalog({"scenarios": [_scenario(**overrides)]})
    assert message in str(error.value)


# -- the command -------------------------------------------------------------------------------------


def test_command_writes_the_table_and_fails_on_a_mismatch(
        sample_plan: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(sample_plan))
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(json.dumps({"scenarios": [
        _scenario(name="reads-raw", resource="arn:aws:s3:::{bucket:data-lake/domain-transactions-raw}/x"),
        _scenario(name="wrongly-expected", resource="arn:aws:s3:::{bucket:data-lake/domain-transactions-raw}/y",
                  expect={"decision": "allowed"}),
    ]}))
    assert main(["--plan", str(plan_file), "--scenarios", str(scenarios)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH wrongly-expected: expected allowed, got denied" in out
    assert "2 scenarios, 1 as expected, 0 known issue(s), 1 mismatched" in out
    # Two scenarios prove no guardrail: every guardrail with an SCP or resource-policy side is a gap.
    assert "COVERAGE GAP SM-7: no allowed scenario and no denied scenario (its side: SCP" in out
    report = json.loads((tmp_path / "access-proofs.json").read_text())
    assert [s["ok"] for s in report["scenarios"]] == [True, False]
    assert report["coverageGaps"]["S3-4"].startswith("no allowed scenario and no denied scenario")
    text = (tmp_path / "access-proofs.md").read_text()
    assert "| reads-raw |" in text and "- SM-7: no allowed scenario and no denied scenario" in text


def test_command_reports_bad_input_without_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   sample_plan: dict[str, Any]) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(sample_plan))
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(json.dumps({"scenarios": [_scenario(principal={"account": "nowhere", "role": "x"})]}))
    assert main(["--plan", str(plan_file), "--scenarios", str(scenarios)]) == 2
    err = capsys.readouterr().err
    assert "scenario 'probe': principal account 'nowhere' is not in the plan" in err
    assert main(["--plan", str(tmp_path / "missing.json")]) == 2


def test_markdown_marks_isolated_scenarios(sample_plan: dict[str, Any]) -> None:
    text = markdown(prove(sample_plan, parse_catalog({"scenarios": [_scenario(
        identity="allow-all", isolation="Resource side only.", principal={"account": "document-vision-dev",
                                                                           "role": "mrd-document-vision-dev-data-scientist"})]})))
    assert "| probe [identity: allow-all] | denied | denied | resource: DenyReadExceptGrantedRoles |" in text
    assert "| probe | Resource side only. |" in text


def test_readme_shows_the_tables_first_lines(sample_proof: Any) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Access proofs", 1)[1].split("\n## ", 1)[0]
    shown = [line for line in section.splitlines() if line.startswith("| ")]
    generated = markdown(sample_proof).splitlines()
    start = generated.index(shown[0])
    assert len(shown) > 3 and generated[start:start + len(shown) + 1] == [shown[0], "|---|---|---|---|---|---|", *shown[1:]]


def test_resource_control_policies_on_the_resource_accounts_path_apply(sample_plan: dict[str, Any]) -> None:
    """An RCP attached to the data-lake account's OU denies reads the bucket policy allows."""
    plan = copy.deepcopy(sample_plan)
    organization = next(s for s in plan["stacks"] if s["name"] == "organization")
    prod_ou = organization["outputs"]["ouIds"]["Workloads/Prod"]
    rcp = {"Version": "2012-10-17", "Statement": [{"Sid": "S34NoReadsFromDev", "Effect": "Deny", "Principal": "*",
           "Action": "s3:GetObject", "Resource": "*",
           "Condition": {"StringEquals": {"aws:PrincipalAccount": _account(plan, "fraud-detection-dev")}}}]}
    organization["resources"] += [
        {"type": ORG_POLICY, "name": "rcp", "id": "p-rcp00001", "account": None, "region": None, "outputs": {},
         "inputs": {"name": "no-dev-reads", "type": "RESOURCE_CONTROL_POLICY", "content": json.dumps(rcp)}},
        {"type": "aws:organizations/policyAttachment:PolicyAttachment", "name": "rcp-attachment", "id": "a",
         "account": None, "region": None, "outputs": {}, "inputs": {"policyId": "p-rcp00001", "targetId": prod_ou}},
    ]
    names = {"consumer-reads-curated-transactions", "lake-formation-role-reads-curated"}
    catalog = parse_catalog({"scenarios": [s.model_dump(exclude_none=True) for s in CATALOG.scenarios if s.name in names]})
    outcomes = _by_name(prove(plan, catalog))
    assert not outcomes["consumer-reads-curated-transactions"].ok
    assert outcomes["consumer-reads-curated-transactions"].deciding[0].text() == "rcp no-dev-reads: S34NoReadsFromDev"
    assert outcomes["lake-formation-role-reads-curated"].ok


def test_a_request_the_engine_rejects_is_a_mismatch_with_its_message(sample_plan: dict[str, Any]) -> None:
    run = prove(sample_plan, parse_catalog({"scenarios": [_scenario(action="s3:GetObjekt")]}))
    (outcome,) = run.outcomes
    assert outcome.decision == "error" and not run.ok
    assert "the engine rejected the request simulation" in outcome.problems[0]


def test_ignored_context_keys_are_reported(sample_proof: Any) -> None:
    """The deprecated sagemaker:VolumeKmsKey, given next to sagemaker:VolumeKmsKeyArn, reaches no
    condition (the engine's data no longer lists it for CreateNotebookInstance)."""
    outcomes = _by_name(sample_proof)
    assert "sagemaker:VolumeKmsKey" in outcomes["notebook-with-safe-values"].ignored_context_keys
    assert "| notebook-with-safe-values | sagemaker:VolumeKmsKey |" in markdown(sample_proof)
