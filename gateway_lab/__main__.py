"""`python -m gateway_lab ...` is the same as the `gateway-lab` command."""

import sys

from .cli import main

sys.exit(main())
