"""The OU tree under the organization root."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws


def ou_resource_name(path: str) -> str:
    """Deterministic logical name of an OU: `Workloads/Dev` -> `ou-workloads-dev`."""
    return "ou-" + path.lower().replace("/", "-")


class OrganizationalUnits(pulumi.ComponentResource):
    """Creates each OU path (`Workloads`, `Workloads/Dev`, ...) below its parent.

    Outputs `ids` and `arns`, keyed by path.
    """

    ids: dict[str, pulumi.Output[str]]
    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, root_id: pulumi.Input[str], paths: Sequence[str],
                 tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:organization:OrganizationalUnits", name, None, opts)
        self.ids, self.arns = {}, {}
        # Parents before children, whatever order the configuration lists them in.
        for path in sorted(paths, key=lambda p: (p.count("/"), p)):
            parent, _, leaf = path.rpartition("/")
            ou = aws.organizations.OrganizationalUnit(
                ou_resource_name(path),
                name=leaf,
                parent_id=self.ids[parent] if parent else root_id,
                tags={**tags, "ou-path": path},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.ids[path], self.arns[path] = ou.id, ou.arn
        self.register_outputs({"ids": self.ids, "arns": self.arns})
