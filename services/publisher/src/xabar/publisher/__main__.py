"""``python -m xabar.publisher``: run the publisher service with settings from the environment."""

from xabar.publisher.app import create_app
from xabar.publisher.config import PublisherSettings
from xabar.runtime.app import serve
from xabar.runtime.logs import configure_logging


def main() -> None:
    settings = PublisherSettings()  # type: ignore[call-arg]  # required values come from the env
    configure_logging("publisher", settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
