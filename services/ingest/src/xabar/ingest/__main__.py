"""``python -m xabar.ingest``: run the ingest service with settings from the environment."""

from xabar.ingest.app import create_app
from xabar.ingest.config import IngestSettings
from xabar.runtime.app import serve
from xabar.runtime.logs import configure_logging


def main() -> None:
    settings = IngestSettings()  # required values come from the env
    configure_logging("ingest", settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
