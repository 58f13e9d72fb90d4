"""`python -m offline_preview`: see offline_preview/cli.py."""

import sys

from offline_preview.cli import main

sys.exit(main())
