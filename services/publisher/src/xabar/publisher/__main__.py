"""``python -m xabar.publisher [COMMAND]``: the server and its commands (see ``cli``)."""

import sys

from xabar.publisher.cli import main

if __name__ == "__main__":
    sys.exit(main())
