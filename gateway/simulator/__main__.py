"""`python -m gateway.simulator`: see `gateway.simulator.cli`."""

import sys

from gateway.simulator.cli import main

sys.exit(main())
