"""Every guard of a component trips: each argument a component refuses is refused, with a
message naming what is wrong. Components are built under the offline engine's mocks by a small
program of their own (tests/programs/guards), one stack per case; argument types that guard
themselves (KeyUse, PersonaTrust, subnet carving) are checked directly."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from components.kms_keys import ENCRYPTION_CONTEXT_PREFIX, SOURCE_SCOPE_KEYS, KeyUse, RolePrincipals
from components.persona_roles import PersonaTrust, trust_policy
from components.workload_vpc import subnet_blocks
from offline_preview.engine import PreviewError, load_program, run_stack

#: Athena's smallest per-query scan cutoff, from its API model (botocore): what the guard must allow.
ATHENA_MIN_CUTOFF = botocore.session.get_session().get_service_model("athena").shape_for(
    "BytesScannedCutoffValue").metadata["min"]
GUARDS = load_program(Path(__file__).resolve().parent / "programs" / "guards")
ACCOUNT = "111122223333"
ROLES = [RolePrincipals(ACCOUNT, ["reader"])]


def run_case(tmp_path: Path, case: str):
    (tmp_path / f"Pulumi.{case}.yaml").write_text(
        f"config:\n  aws:region: eu-west-1\n  guards-demo:case: {case}\n")
    return run_stack(case, tmp_path, {}, program=GUARDS)


@pytest.mark.parametrize(("case", "message"), [
    ("athena-cutoff", f"workgroup analysts: bytes_scanned_cutoff {ATHENA_MIN_CUTOFF - 1} is below Athena's minimum "
                      f"{ATHENA_MIN_CUTOFF}"),
    ("scp-unknown-target", "GuardrailPolicies scps: unknown targets Nowhere"),
    ("key-deletion-window-short", "key key: deletion window 29 days (allowed: 30 days, KMS-1)"),
    ("key-deletion-window-long", "key key: deletion window 31 days (allowed: 30 days, KMS-1)"),
    ("key-duplicate-sid", "key key: statement ids must be unique (Use, Use)"),
    ("key-administration-sid", "key key: statement ids must be unique (KeyAdministration)"),
    ("key-without-administrators", "a customer-managed key needs at least one administrator role"),
    ("lake-formation-without-admins", "lf: Lake Formation needs at least one administrator"),
    ("bucket-without-key", "SecureBucket b: a KMS key is required unless the bucket is an access-log target"),
    ("log-target-with-key", "SecureBucket b: a KMS key is required unless the bucket is an access-log target"),
    ("hub-without-edge-table", "TransitGatewayHub hub: on-premises needs the edge route table 'edge'"),
    ("endpoints-unknown-service", "VpcEndpoints endpoints: unknown services ['nope'] (known: "),
    ("flow-log-without-key-administrators", "VpcFlowLog flow: FlowLogSettings.key_administrators names no role"),
    ("vpc-one-zone", "WorkloadVpc vpc: 1 Availability Zone(s); at least 2 are required"),
    ("vpc-more-zones-than-the-region", "the region has 3 Availability Zones; 9 were asked for"),
])
def test_each_component_guard_refuses_its_argument(tmp_path, case, message):
    with pytest.raises(PreviewError) as info:
        run_case(tmp_path, case)
    assert "ValueError" in str(info.value) and message in str(info.value), str(info.value)


def test_a_guard_lets_the_boundary_value_through(tmp_path):
    # Athena's minimum itself is allowed: the guard refuses only what is below it. The minimum
    # is Athena's API model's (10,000,000 bytes), never the component's own constant.
    assert ATHENA_MIN_CUTOFF == 10_000_000
    run = run_case(tmp_path, "athena-cutoff-at-minimum")
    [workgroup] = run.of_type("aws:athena/workgroup:Workgroup")
    assert workgroup.inputs["configuration"]["bytesScannedCutoffPerQuery"] == ATHENA_MIN_CUTOFF


@pytest.mark.parametrize(("use", "message"), [
    (dict(roles=ROLES, service="logs.amazonaws.com", source_account=ACCOUNT), "give either roles or a service principal"),
    (dict(), "give either roles or a service principal"),
    (dict(service="logs.amazonaws.com"), "a service principal needs source_account or a condition on "
                                         f"{', '.join(SOURCE_SCOPE_KEYS)} or {ENCRYPTION_CONTEXT_PREFIX}*"),
    # A condition on another key does not scope the caller.
    (dict(service="logs.amazonaws.com", conditions={"StringEquals": {"kms:ViaService": "logs.eu-west-1.amazonaws.com"}}),
     "a service principal needs source_account"),
    (dict(roles=ROLES, actions=["kms:Decrypt", "kms:*"]), "name the KMS actions, never kms:* (KMS-2)"),
    (dict(roles=ROLES, actions=["*"]), "name the KMS actions, never kms:* (KMS-2)"),
])
def test_key_use_refuses_what_kms_2_forbids(use, message):
    with pytest.raises(ValueError, match="^KeyUse Use: ") as info:
        KeyUse(**{"sid": "Use", "actions": ["kms:Decrypt"], **use})
    assert message in str(info.value)


def test_key_use_accepts_a_scoped_service_principal():
    # Either scope satisfies the confused-deputy guard: the source account or a scoping condition.
    KeyUse(sid="Logs", actions=["kms:Decrypt"], service="logs.amazonaws.com", source_account=ACCOUNT)
    KeyUse(sid="Logs", actions=["kms:Decrypt"], service="logs.amazonaws.com",
           conditions={"ArnLike": {f"{ENCRYPTION_CONTEXT_PREFIX}aws:logs:arn": "arn:aws:logs:*"}})
    KeyUse(sid="Logs", actions=["kms:Decrypt"], service="logs.amazonaws.com",
           conditions={"StringEquals": {SOURCE_SCOPE_KEYS[0]: ACCOUNT}})


def test_persona_trust_must_name_someone():
    with pytest.raises(ValueError, match="PersonaTrust: name services, people, or both"):
        trust_policy(ACCOUNT, PersonaTrust())


def test_subnets_are_never_carved_below_the_aws_minimum():
    assert subnet_blocks("10.0.0.0/26", 2) == ["10.0.0.0/28", "10.0.0.16/28"]  # /28 is the smallest AWS allows
    with pytest.raises(ValueError, match=r"10.0.0.0/27 is too small for 2 subnets \(each would be /29; AWS allows "
                                         r"at most /28\)"):
        subnet_blocks("10.0.0.0/27", 2)
