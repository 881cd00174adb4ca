"""``python -m xabar.polls``: run the polls service with settings from the environment."""

from xabar.polls.app import create_app
from xabar.polls.config import PollsSettings
from xabar.runtime.app import serve
from xabar.runtime.logs import configure_logging


def main() -> None:
    settings = PollsSettings()  # type: ignore[call-arg]  # required values come from the env
    configure_logging("polls", settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
