"""Which pulumi-aws resource types are taggable, read from the pulumi-aws Python SDK.

A resource type is taggable when its schema has a `tags` property; it inherits the provider's
`defaultTags` when its schema also has `tagsAll`. The policy pack does not depend on pulumi-aws
at run time, so the lists are generated once into `data/taggable_types.json`:

    cd policypacks/ml-guardrails && python -m ml_guardrails.taggable     # needs pulumi-aws installed

The pack's tests fail when the committed file no longer matches the installed SDK.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .generated import write_or_check

DATA_FILE = Path(__file__).resolve().parent / "data" / "taggable_types.json"
_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'([^']+)'")
_GETTER = r'@pulumi\.getter{}\n(?:    @.*\n)*    def {}\('


def generate() -> dict[str, Any]:
    """Scan the installed pulumi-aws SDK (text only: importing 1,700 modules would be slow)."""
    import importlib.metadata  # noqa: PLC0415
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.find_spec("pulumi_aws")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pulumi-aws is not installed in this Python environment")
    root = Path(next(iter(spec.submodule_search_locations)))
    default_tags, tags_only = set(), set()
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        match = _TOKEN.search(text)
        start = text.find("(pulumi.CustomResource):")
        if not match or start < 0:
            continue
        body = text[start:]
        if not re.search(_GETTER.format("", "tags"), body):
            continue
        if re.search(_GETTER.format(r'\(name="tagsAll"\)', "tags_all"), body):
            default_tags.add(match.group(1))
        else:
            tags_only.add(match.group(1))
    return {
        "generatedFrom": f"pulumi-aws {importlib.metadata.version('pulumi_aws')}",
        "defaultTags": sorted(default_tags),
        "tagsOnly": sorted(tags_only),
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str]) -> int:
    return write_or_check(DATA_FILE, render(generate()), argv, "ml_guardrails.taggable")

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
