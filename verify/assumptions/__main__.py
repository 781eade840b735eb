"""``python -m verify.assumptions MODULE:FACTORY ...``: the ``verify assumptions`` command, stand-alone."""

import sys

from verify.assumptions.command import main

sys.exit(main())
