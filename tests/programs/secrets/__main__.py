"""`source` exports a secret, a plain value and a nested one; `reader` reads them through a
StackReference, passes the secret to a resource and exports it again, as is and derived; reads
an output `source` does not export with `get_output`; and reads the nested value twice, changing
the first copy it gets."""

import pulumi
import pulumi_aws as aws

if pulumi.Config().require("role") == "source":
    pulumi.export("apiToken", pulumi.Output.secret("tok-0123456789"))
    pulumi.export("region", "eu-west-1")
    pulumi.export("settings", {"tags": {"team": "ml"}, "zones": ["a", "b"]})
else:
    source = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/source")
    token = source.require_output("apiToken")
    aws.ssm.Parameter("token", type="SecureString", value=token)
    pulumi.export("token", token)
    pulumi.export("tokenUpper", token.apply(lambda t: t.upper()))
    pulumi.export("tokenLooked", source.get_output("apiToken"))
    pulumi.export("region", source.require_output("region"))
    pulumi.export("absent", source.get_output("notExported"))

    def change(settings):
        settings["tags"]["team"] = "changed"
        settings["zones"].append("c")
        return settings

    pulumi.export("settingsChanged", source.require_output("settings").apply(change))
    settings = source.require_output("settings")
    pulumi.export("settingsAgain", settings)
    aws.sns.Topic("team", name=settings.apply(lambda s: s["tags"]["team"]))
