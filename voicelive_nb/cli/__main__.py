"""``python -m voicelive_nb.cli``: the same as the ``voicelive-nb`` command."""

import sys

from voicelive_nb.cli import main

sys.exit(main())
