"""Readers of what the delivery stacks register, shared by the delivery test files: the
production CloudFormation execution role's policy, its actions and statements, and the
parameters the deployment pipeline's Deploy action passes."""

from __future__ import annotations

import json


def cfn_endpoint_policy(run, project) -> dict:
    """The inline policy of `<prefix>-<project>-cfn-endpoint`, parsed."""
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == f"mrd-{project}-cfn-endpoint"]
    (policy,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.parent == role.urn]
    return json.loads(policy.inputs["policy"])


def policy_actions(doc) -> set[str]:
    """Every action a policy document's statements name."""
    return {a for s in doc["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


def statements_by_sid(doc) -> dict:
    return {s["Sid"]: s for s in doc["Statement"]}


def deploy_parameters(run, project) -> dict:
    """The ParameterOverrides of the deployment pipeline's Deploy action, parsed."""
    (pipeline,) = [p for p in run.of_type("aws:codepipeline/pipeline:Pipeline")
                   if p.inputs["name"] == f"mrd-{project}-deployment"]
    (deploy,) = [s for s in pipeline.inputs["stages"] if s["name"] == "Deploy"][0]["actions"]
    return json.loads(deploy["configuration"]["ParameterOverrides"])
