"""Check the guardrail catalog and write the pack's copy of it.

    python -m guardrail_catalog            # validate, rewrite the pack's data/guardrail_catalog.json
    python -m guardrail_catalog --check    # exit 1 when the catalog is invalid or the copy is stale
"""

from __future__ import annotations

import sys

from guardrail_catalog import PACK_COPY, CatalogError, load_catalog, render_pack_copy


def main(argv: list[str]) -> int:
    try:
        text = render_pack_copy(load_catalog())
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    if "--check" in argv:
        if not PACK_COPY.exists() or PACK_COPY.read_text() != text:
            print(f"{PACK_COPY} is stale; run python -m guardrail_catalog", file=sys.stderr)
            return 1
        return 0
    PACK_COPY.write_text(text)
    print(f"wrote {PACK_COPY}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
