"""Demo content, loaded once through the real pipeline (publisher, polls; never the feed's store).

The reference front page (data/reference.json, taken from the portal's real page) gives the news of
the day with its sections and photo credit, the six older news items, and the poll with its vote
distribution (31/23/13/12/12/9 % of 1,492). Thousands of older items are generated so that the
news list runs past page 1,000, as on the real site.
"""

import html
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from xabar.contracts import CountryProfile, CountryProfilePublished, Event
from xabar.runtime.bus import EventBus

DATA = Path(__file__).parent / "data" / "reference.json"
GENERATED_ITEMS = 6300  # with 6 a page, the list runs to page 1,050+
TZ = ZoneInfo("Asia/Almaty")

OLDER_ITEM_COUNTRIES = [["UZ"], ["UZ"], ["KZ"], ["KG"], [], ["TJ"]]

# name, genitive, capital (nominative, prepositional), second city (nominative, prepositional)
_COUNTRIES = {
    "KZ": ("Казахстан", "Казахстана", ("Астана", "Астане"), ("Алматы", "Алматы")),
    "KG": ("Кыргызстан", "Кыргызстана", ("Бишкек", "Бишкеке"), ("Ош", "Оше")),
    "UZ": ("Узбекистан", "Узбекистана", ("Ташкент", "Ташкенте"), ("Самарканд", "Самарканде")),
    "TJ": ("Таджикистан", "Таджикистана", ("Душанбе", "Душанбе"), ("Худжанд", "Худжанде")),
    "TM": (
        "Туркменистан",
        "Туркменистана",
        ("Ашхабад", "Ашхабаде"),
        ("Туркменабат", "Туркменабате"),
    ),
    "CN": ("Китай", "Китая", ("Пекин", "Пекине"), ("Урумчи", "Урумчи")),
}
_TOPICS = [
    "торгово-экономическое сотрудничество",
    "транзит грузов",
    "водно-энергетические вопросы",
    "безопасность на границе",
    "строительство железной дороги",
    "поставки электроэнергии",
    "миграционную политику",
    "образовательные обмены",
    "развитие туризма",
    "цифровизацию таможни",
]
_EVENTS = [
    "открылся новый медицинский центр",
    "прошел международный инвестиционный форум",
    "задержали группу подозреваемых в мошенничестве",
    "подорожал общественный транспорт",
    "начали ремонт центральных улиц",
    "прошла акция в поддержку независимых СМИ",
    "ввели ограничения на продажу топлива",
    "открыли выставку современного искусства",
    "завершили строительство нового моста",
    "провели учения спасателей",
]
_DECISIONS = [
    "утвердило программу развития сельского хозяйства",
    "повысило минимальную зарплату",
    "объявило о приватизации крупных предприятий",
    "ограничило экспорт зерна",
    "приняло новый закон о СМИ",
    "снизило налоги для малого бизнеса",
]
_LEADS = [
    "Об этом сообщает пресс-служба ведомства.",
    "Эксперты оценивают последствия решения неоднозначно.",
    "Подробности пока не раскрываются, расследование продолжается.",
    "Решение вступит в силу с начала следующего года.",
    "Стороны договорились продолжить переговоры в ближайшие месяцы.",
]


def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def _local(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=TZ).astimezone(UTC)


def article_of_the_day(now: datetime, image_path: Path | None) -> dict[str, Any]:
    ref = reference()["article_of_the_day"]
    local_now = now.astimezone(TZ)
    at = local_now.replace(hour=7, minute=58, second=0, microsecond=0)
    if at > local_now:
        at = local_now - timedelta(minutes=5)
    body = []
    for section in ref["sections"]:
        body.append(f"<h2>{html.escape(section['heading'])}</h2>")
        body.extend(f"<p>{html.escape(p)}</p>" for p in section["paragraphs"])
    return {
        "import_key": "reference:article-of-the-day",
        "title": ref["title"],
        "lead": ref["lead"],
        "body_html": "".join(body),
        "countries": ref["countries"],
        "tags": ["МИД", "дипломатия", "стратегическое партнерство"],
        "published_at": at.astimezone(UTC).isoformat(),
        "featured": True,
        "image": {"credit": ref["credit"], "alt": "Переговоры министров иностранных дел в Душанбе"},
        "image_path": str(image_path) if image_path else None,
        "source": "Xabar",
        "author": "Редакция",
    }


def older_items() -> Iterator[dict[str, Any]]:
    for n, (item, countries) in enumerate(
        zip(reference()["older_items"], OLDER_ITEM_COUNTRIES, strict=True)
    ):
        yield {
            "import_key": f"reference:older:{n}",
            "title": item["title"],
            "lead": item["lead"],
            "body_html": f"<p>{html.escape(item['lead'])}.</p>",
            "countries": countries,
            "tags": [],
            "published_at": _local(item["local_time"]).isoformat(),
            "featured": False,
            "image": None,
            "source": "Xabar",
            "author": "Редакция",
        }


def generated_items(count: int = GENERATED_ITEMS, seed: int = 1039) -> Iterator[dict[str, Any]]:
    """Plausible older news, each a little older than the one before (from September 2013)."""
    rng = random.Random(seed)
    at = _local("2013-09-18T11:00")
    codes = list(_COUNTRIES)
    for n in range(count):
        at -= timedelta(minutes=rng.randint(90, 900))
        code = rng.choice(codes)
        name, gen, capital, city = _COUNTRIES[code]
        kind = n % 3
        countries = [code]
        if kind == 0:
            other = rng.choice([c for c in codes if c != code])
            title = f"{name} и {_COUNTRIES[other][0]} обсудили {rng.choice(_TOPICS)}"
            countries.append(other)
        elif kind == 1:
            title = f"В {rng.choice([capital, city])[1]} {rng.choice(_EVENTS)}"
        else:
            title = f"Правительство {gen} {rng.choice(_DECISIONS)}"
        lead = rng.choice(_LEADS)
        yield {
            "import_key": f"generated:{n}",
            "title": title,
            "lead": lead,
            "body_html": f"<p>{html.escape(title)}. {html.escape(lead)}</p>",
            "countries": countries,
            "tags": [],
            "published_at": at.isoformat(),
            "featured": False,
            "image": None,
            "source": "Xabar",
            "author": "Редакция",
        }


def poll_file() -> dict[str, Any]:
    """The reference poll with vote counts whose largest-remainder percentages are exactly the
    reference's (31/23/13/12/12/9 % of 1,492)."""
    poll = reference()["poll"]
    total = poll["total_votes"]
    counts = vote_counts([o["percent"] for o in poll["options"]], total)
    return {
        "import_key": "reference:poll-eaeu",
        "question": poll["question"],
        "options": [
            {"text": o["text"], "votes": c} for o, c in zip(poll["options"], counts, strict=True)
        ],
        "multiple": False,
        "results_visibility": "always",
    }


def vote_counts(percents: list[int], total: int) -> list[int]:
    """Counts adding up to ``total`` that are as close as possible to ``percents``."""
    raw = [p * total / 100 for p in percents]
    counts = [round(x) for x in raw]
    while sum(counts) != total:
        diffs = [(c - x, i) for i, (c, x) in enumerate(zip(counts, raw, strict=True))]
        if sum(counts) > total:
            counts[max(diffs)[1]] -= 1
        else:
            counts[min(diffs)[1]] += 1
    return counts


def photo(path: Path) -> Path:
    """A stand-in photo for the news of the day (the real one is the ministry's)."""
    if path.exists():
        return path
    img = Image.new("RGB", (1200, 675))
    draw = ImageDraw.Draw(img)
    for y in range(675):
        shade = int(60 + 120 * y / 675)
        draw.line([(0, y), (1200, y)], fill=(shade // 2, shade // 2 + 20, shade + 40))
    draw.rectangle([(80, 420), (1120, 600)], fill=(230, 230, 225))
    draw.rectangle([(150, 300), (1050, 430)], fill=(120, 60, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=85)
    return path


def write_demo_files(state: Path, now: datetime | None = None) -> tuple[Path, Path]:
    demo = state / "demo"
    demo.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    articles = demo / "articles.jsonl"
    with articles.open("w", encoding="utf-8") as out:
        for item in [
            article_of_the_day(now, photo(demo / "dushanbe.jpg")),
            *older_items(),
            *generated_items(),
        ]:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    poll = demo / "poll.json"
    poll.write_text(json.dumps(poll_file(), ensure_ascii=False, indent=1), encoding="utf-8")
    return articles, poll


PROFILES = Path(__file__).parent / "data" / "profiles.json"


def profile_events(now: datetime | None = None) -> list[Event]:
    """The six sections' "О стране" as ``country_profile.published`` v1, for the bench's stack
    (which has no publisher data). ``make run`` has the publisher store and publish them
    (``import-profiles``), so that the newsroom's edits follow as versions 2, 3, ..."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    events: list[Event] = []
    for profile in json.loads(PROFILES.read_text(encoding="utf-8")):
        events.append(
            CountryProfilePublished.create(
                producer="devstack",
                aggregate_id=profile["country"],
                version=1,
                data=CountryProfile.model_validate({**profile, "updated_at": at}),
            )
        )
    return events


async def publish_profiles(redis_url: str) -> int:
    bus = EventBus(redis_url, consumer_name="devstack")
    await bus.start()
    try:
        events = profile_events()
        for event in events:
            await bus.publish(event)
        return len(events)
    finally:
        await bus.stop()
