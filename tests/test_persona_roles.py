"""Roles that Lake Formation grants to exist before the grants (it refuses unknown principals)."""

from __future__ import annotations

import json
from pathlib import Path

from offline_preview.engine import discover_stacks
from policy_documents.service_authorization import validate_document

ROLE = "aws:iam/role:Role"
PERMISSIONS = "aws:lakeformation/permissions:Permissions"
SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"


def _roles_by_arn(run):
    return {r.outputs["arn"]: r for r in run.of_type(ROLE)}


def test_project_lake_grants_name_roles_created_first(sample_runs):
    run = sample_runs("fraud-detection-dev")
    roles = _roles_by_arn(run)
    grants = [g for g in run.of_type(PERMISSIONS) if ":role/" in g.inputs["principal"]]
    assert grants, "the sample grants fraud-detection-dev's roles read access to the lake"
    for grant in grants:
        role = roles[grant.inputs["principal"]]
        assert role.urn in grant.dependencies or role.urn in grant.property_dependencies.get("principal", [])


def test_project_personas_trust_sagemaker_or_their_persona_sessions_of_their_account(sample_runs):
    # The notebook role is SageMaker's; the people's roles are assumed by the data scientist
    # persona's sessions (tests/test_data_readers.py). Their permissions come separately
    # (RolePolicy), from the layer whose grants they match.
    run = sample_runs("fraud-detection-dev")
    personas = [r for r in run.of_type(ROLE) if r.inputs.get("tags", {}).get("persona")]
    assert {r.inputs["name"] for r in personas} >= {"mrd-fraud-detection-dev-data-scientist", "mrd-fraud-detection-dev-sm-execution"}
    account = personas[0].outputs["arn"].split(":")[4]
    for role in personas:
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        if role.inputs["name"].endswith("-sm-execution"):
            assert statement["Principal"] == {"Service": ["sagemaker.amazonaws.com"]}
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
        else:
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
            assert list(statement["Condition"]) == ["ArnLike"]
        assert not role.inputs.get("inlinePolicies") and not role.inputs.get("managedPolicyArns")


def test_data_lake_admins_and_engineers_exist_before_lake_formation_names_them(sample_runs):
    run = sample_runs("data-lake")
    roles = _roles_by_arn(run)
    (settings,) = run.of_type(SETTINGS)
    admin = next(a for a in settings.inputs["admins"] if a.endswith(":role/mrd-data-platform-admin"))
    assert roles[admin].urn in settings.property_dependencies.get("admins", []) + settings.dependencies
    (statement,) = json.loads(roles[admin].inputs["assumeRolePolicy"])["Statement"]
    # The data engineers' sessions (tests/test_identity.py); no MFA key, which federation never carries.
    assert list(statement["Condition"]) == ["ArnLike"]
    engineer_grants = [g for g in run.of_type(PERMISSIONS) if g.inputs["principal"].endswith(":role/mrd-data-engineer")]
    assert engineer_grants
    for grant in engineer_grants:
        assert roles[grant.inputs["principal"]].urn in grant.property_dependencies.get("principal", [])


def test_every_trust_policy_of_the_sample_validates(sample_runs):
    # Actions and condition keys of every role's trust policy exist in the service data.
    sample_dir = Path(__file__).resolve().parent.parent / "stacks"
    for stack in discover_stacks(sample_dir):
        for role in sample_runs(stack).of_type(ROLE):
            assert validate_document(json.loads(role.inputs["assumeRolePolicy"])) == [], (stack, role.name)
