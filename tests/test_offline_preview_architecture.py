"""The architecture drawing: what is read from a plan, and that both renderings are sound."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from offline_preview.architecture import (
    build_model,
    render_mermaid,
    render_svg,
    trusted_principals,
)

ORG = "urn:pulumi:organization::p::"


def _res(typ: str, logical: str, rid: str | None = None, account: str | None = "100000000001", **inputs) -> dict:
    return {"urn": f"{ORG}{typ}::{logical}", "type": typ, "name": logical, "id": rid, "inputs": inputs,
            "outputs": {}, "account": account, "read": False}


def _plan() -> dict:
    org = _res("aws:organizations/organization:Organization", "organization", "o-1")
    org["outputs"] = {"masterAccountId": "100000000001", "roots": [{"id": "r-root"}]}
    trust = json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::200000000002:root"},
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "sagemaker.amazonaws.com"}},
    ]})
    service_trust = json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                               "Principal": {"Service": "lambda.amazonaws.com"}}]})
    resources = [
        org,
        _res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-workloads", "ou-w", name="Workloads",
             parentId="r-root"),
        _res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-workloads-dev", "ou-d", name="Dev",
             parentId="ou-w"),
        _res("aws:organizations/account:Account", "account-a", "300000000003", name="team-dev", parentId="ou-d"),
        _res("aws:organizations/account:Account", "account-b", "200000000002", name="automation", parentId="ou-w"),
        _res("aws:ec2/vpc:Vpc", "vpc", "vpc-1", "300000000003", cidrBlock="10.0.0.0/22"),
        _res("aws:ec2/vpcEndpoint:VpcEndpoint", "sts", "vpce-1", "300000000003", vpcId="vpc-1",
             serviceName="com.amazonaws.eu-west-1.sts"),
        _res("aws:s3/bucket:Bucket", "data", "team-data", "300000000003", bucket="team-data"),
        _res("aws:kms/key:Key", "key", "k-1", "300000000003"),
        _res("aws:kms/alias:Alias", "alias", "alias/team", "300000000003", name="alias/team", targetKeyId="k-1"),
        _res("aws:iam/role:Role", "deploy", "deploy", "300000000003", name="deploy", assumeRolePolicy=trust),
        _res("aws:iam/role:Role", "fn", "fn", "300000000003", assumeRolePolicy=service_trust),
    ]
    return {"project": "p", "stacks": [
        {"name": "organization", "layer": "organization", "references": [], "resources": resources},
        {"name": "team-dev", "layer": "project", "references": ["organization"], "resources": []},
    ]}


def test_trusted_principals_leave_services_out_and_note_org_conditions():
    found = trusted_principals(json.loads(_plan()["stacks"][0]["resources"][-2]["inputs"]["assumeRolePolicy"]))
    assert found == [("200000000002 (organization only)", "200000000002")]
    assert trusted_principals('{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*"}}') == [
        ("any principal", None)]
    assert trusted_principals("not json") == []


def test_model_groups_accounts_by_ou_and_places_resources():
    model = build_model(_plan())
    assert model.ous == ["Workloads", "Workloads/Dev"]
    team = model.accounts["300000000003"]
    assert (team.name, team.ou) == ("team-dev", "Workloads/Dev")
    assert model.accounts["200000000002"].ou == "Workloads"
    assert model.accounts["100000000001"].ou == ""  # management, at the root
    labels = [i.label for i in team.items]
    assert labels == ["VPC vpc 10.0.0.0/22", "bucket team-data", "KMS key alias/team", "role deploy",
                      "1 service role(s)"]
    assert team.items[0].detail == "sts"
    assert [(t.principal_account, t.role_account, t.role) for t in model.trusts] == [
        ("200000000002", "300000000003", "deploy")]
    assert model.references == [("organization", "team-dev")]


def test_svg_is_well_formed_and_draws_trust_and_reference_edges():
    svg = render_svg(build_model(_plan()))
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "automation may assume deploy in team-dev" in titles
    assert "team-dev reads organization" in titles
    assert render_svg(build_model(_plan())) == svg  # deterministic


def test_mermaid_nests_ous_and_links_principals_to_roles():
    text = render_mermaid(build_model(_plan()))
    assert 'subgraph ou_Workloads["OU Workloads"]' in text
    assert 'subgraph ou_Workloads_Dev["OU Dev"]' in text
    assert 'acct_200000000002 -. "may assume" .-> acct_300000000003_3' in text
    assert "stack_organization --> stack_team_dev" in text
    assert text.count("subgraph") == text.count("\n  end") + text.count("\n    end") + text.count("\n      end") \
        + text.count("\n        end")
