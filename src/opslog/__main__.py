"""``python -m opslog`` is the ``opslog`` command."""

import sys

from .cli import main

sys.exit(main())
