"""`python -m actrec`: the same as the `actrec` command."""

import sys

from actrec.cli import main

sys.exit(main())
