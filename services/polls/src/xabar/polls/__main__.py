"""``python -m xabar.polls``: the HTTP service (no arguments or ``serve``) and the CLI."""

import sys

from xabar.polls.cli import main

if __name__ == "__main__":
    sys.exit(main())
