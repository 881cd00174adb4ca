"""``python -m xabar.feed``: run the feed service; ``python -m xabar.feed rebuild`` rebuilds."""

import sys

from xabar.feed.cli import main

if __name__ == "__main__":
    sys.exit(main())
