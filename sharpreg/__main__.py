"""``python -m sharpreg`` (what ``torchrun ... -m sharpreg run RECIPE`` starts in each process)."""

import sys

from .cli import main

sys.exit(main())
