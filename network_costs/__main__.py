"""`python -m network_costs`: print the monthly run-rate of per-VPC vs central interface
endpoints for a platform definition (default: the sample, stacks/platform.yaml)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from network_costs import PRICES_FILE, as_dict, estimate, load_prices, report  # noqa: E402
from stacks.config import ConfigError, load_platform_file  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m network_costs", description=__doc__)
    parser.add_argument("--platform", type=Path, default=ROOT / "stacks" / "platform.yaml",
                        help="platform definition (default: %(default)s)")
    parser.add_argument("--gb-per-vpc", type=float, default=100.0,
                        help="GB per month each VPC sends through interface endpoints (default: %(default)s)")
    parser.add_argument("--region", help="price region (default: the platform's home_region)")
    parser.add_argument("--prices", type=Path, default=PRICES_FILE, help="price table (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.gb_per_vpc < 0:
        parser.error("--gb-per-vpc must not be negative")
    try:
        platform = load_platform_file(args.platform)
        prices = load_prices(args.region or platform.home_region, args.prices)
    except (ConfigError, KeyError) as exc:
        print(f"network_costs: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(as_dict(estimate(platform, prices, args.gb_per_vpc)), indent=2))
    else:
        print(report(platform, prices, args.gb_per_vpc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
