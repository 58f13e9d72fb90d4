"""Files the pack generates from its own code (catalog, taggable types): write, or check."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, argv: list[str], module: str) -> int:
    """Write `text` to `path`, or with `--check` in `argv` exit 1 when the file differs."""
    if "--check" in argv:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is stale; run python -m {module}", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0
