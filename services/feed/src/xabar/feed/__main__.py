"""``python -m xabar.feed``: run the feed service with settings from the environment."""

from xabar.feed.app import create_app
from xabar.feed.config import FeedSettings
from xabar.runtime.app import serve
from xabar.runtime.logs import configure_logging


def main() -> None:
    settings = FeedSettings()  # type: ignore[call-arg]  # required values come from the env
    configure_logging("feed", settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
