"""``python -m augment_ft.cli``: the console script without the installed entry point."""

import sys

from augment_ft.cli.main import main

sys.exit(main())
