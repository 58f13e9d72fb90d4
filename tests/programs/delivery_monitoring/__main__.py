"""Builds the DeliveryMonitoring component the stack's `case` names, with one provider per
account, as the delivery stack does.

The repository root must be importable (the tests' conftest puts it on sys.path)."""

import pulumi
import pulumi_aws as aws

from components.delivery_monitoring import DeliveryMonitoring, DeliveryMonitoringArgs, EndpointAlarms

AUTOMATION, PREPROD, PROD = "222233334444", "333344445555", "444455556666"
TAGS = {"owner": "team", "project": "churn"}


def provider(label: str, account: str) -> aws.Provider:
    return aws.Provider(label, region="eu-west-1", allowed_account_ids=[account], assume_roles=[
        aws.ProviderAssumeRoleArgs(role_arn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole")])


def args(**changes) -> DeliveryMonitoringArgs:
    values = dict(name_prefix="mrd", project="churn", region="eu-west-1", automation_account_id=AUTOMATION,
                  key_administrators=["OrganizationAccountAccessRole", "mrd-break-glass"],
                  preprod_account_id=PREPROD, prod_account_id=PROD,
                  endpoint_alarms=EndpointAlarms(endpoint_name="mrd-churn"), emails=["mlops@example.com"],
                  tags=TAGS)
    values.update(changes)
    return DeliveryMonitoringArgs(**values)


case = pulumi.Config("delivery-monitoring-demo").require("case")
automation = provider("automation", AUTOMATION)
if case == "full":
    monitoring = DeliveryMonitoring("churn-monitoring", args(), automation, provider("preprod", PREPROD),
                                    provider("prod", PROD))
elif case == "automation-only":
    monitoring = DeliveryMonitoring("churn-monitoring", args(preprod_account_id=None, prod_account_id=None,
                                                             endpoint_alarms=None, emails=[]), automation)
elif case == "named-pipelines":
    monitoring = DeliveryMonitoring("churn-monitoring", args(
        prod_account_id=None, endpoint_alarms=None, pipeline_names=["mrd-churn-training"],
        build_project_names=["mrd-churn-image"]), automation, provider("preprod", PREPROD))
elif case == "missing-provider":
    monitoring = DeliveryMonitoring("churn-monitoring", args(), automation, provider("preprod", PREPROD))
else:
    raise ValueError(f"unknown case {case}")
pulumi.export("topicArn", monitoring.topic_arn)
pulumi.export("busArn", monitoring.bus_arn)
pulumi.export("ruleNames", monitoring.rule_names)
pulumi.export("alarmNames", monitoring.alarm_names)
