"""`source` exports a secret and a plain value; `reader` reads both through a StackReference,
passes the secret to a resource and exports it again, as is and derived."""

import pulumi
import pulumi_aws as aws

if pulumi.Config().require("role") == "source":
    pulumi.export("apiToken", pulumi.Output.secret("tok-0123456789"))
    pulumi.export("region", "eu-west-1")
else:
    source = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/source")
    token = source.require_output("apiToken")
    aws.ssm.Parameter("token", type="SecureString", value=token)
    pulumi.export("token", token)
    pulumi.export("tokenUpper", token.apply(lambda t: t.upper()))
    pulumi.export("tokenLooked", source.get_output("apiToken"))
    pulumi.export("region", source.require_output("region"))
