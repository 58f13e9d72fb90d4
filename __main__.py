"""ml-platform: selects this stack's layer from its configuration and runs it.

Configuration is loaded and validated before any resource is registered; a bad value stops
the program with every problem listed.
"""

import importlib

import pulumi

from stacks.config import ConfigError
from stacks.context import load_context

try:
    context = load_context()
    # Layers raise ConfigError too (e.g. SCPs that cannot fit), always before any resource.
    importlib.import_module(f"stacks.{context.layer.replace('-', '_')}").run(context)
except ConfigError as error:
    # pulumi.log.error plus a failed program is how the CLI shows a configuration error.
    pulumi.log.error(str(error))
    raise SystemExit(1) from None
