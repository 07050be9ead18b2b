"""`python -m vaelab COMMAND ...`: the `vaelab` command, also where no console script is installed
(e.g. `torchrun --nproc-per-node 2 -m vaelab train ...`)."""

import sys

from vaelab.cli import main

sys.exit(main())
