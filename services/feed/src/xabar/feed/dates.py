"""Dates as the readers see them, in Russian, in the site's time zone (Babel, CLDR data).

- header:  "вторник, 17 февраля 2026"
- stamp:   "Сегодня 07:58", "Вчера 18:20", else "24 сентября 2013 16:37" (joined by no-break
  spaces, as on the reference page, so a stamp never wraps)
- machine formats for feeds and markup: RFC 822 (RSS), RFC 3339 (Atom, JSON Feed, JSON-LD),
  HTTP dates (Last-Modified).
"""

from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.dates import format_datetime as babel_datetime

LOCALE = "ru"
NBSP = "\xa0"
STAMP = f"d{NBSP}MMMM{NBSP}y{NBSP}HH:mm"
TODAY = "Сегодня"
YESTERDAY = "Вчера"


class Dates:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone)

    def today(self, now: datetime) -> date:
        return self.local(now).date()

    def header(self, now: datetime) -> str:
        return format_date(self.today(now), "EEEE, d MMMM y", locale=LOCALE)

    def stamp(self, value: datetime, now: datetime) -> str:
        """When ``value`` happened, relative to the local day of ``now``."""
        local = self.local(value)
        today = self.today(now)
        if local.date() == today:
            return f"{TODAY}{NBSP}{format_time(local, 'HH:mm', locale=LOCALE)}"
        if local.date() == today - timedelta(days=1):
            return f"{YESTERDAY}{NBSP}{format_time(local, 'HH:mm', locale=LOCALE)}"
        return babel_datetime(local, STAMP, tzinfo=self.zone, locale=LOCALE)

    def full(self, value: datetime) -> str:
        """An absolute date and time, for the article page: "17 февраля 2026 07:58"."""
        return babel_datetime(self.local(value), STAMP, tzinfo=self.zone, locale=LOCALE)

    def day_end(self, now: datetime) -> float:
        """Epoch seconds of the next local midnight: when "Сегодня" becomes "Вчера"."""
        tomorrow = self.today(now) + timedelta(days=1)
        return datetime.combine(tomorrow, time(0, 0), tzinfo=self.zone).timestamp()


def rfc822(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def rfc3339(value: datetime) -> str:
    """UTC with a ``Z``; to the second, or to the millisecond when it has a fraction (HTML's
    ``datetime`` takes at most three fraction digits)."""
    utc = value.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


http_date = rfc822
