"""python -m bench.parity: the parity verdict (see bench.parity.verdict)."""

import sys

from bench.parity.verdict import main

sys.exit(main())
