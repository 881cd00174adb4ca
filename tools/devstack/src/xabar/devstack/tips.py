"""A few citizen reporters' tips, with photos, sent through ingest's public API on the first
`make run`: they wait in the newsroom's inbox ("Входящие")."""

import io

import httpx
from PIL import Image, ImageDraw
from xabar.devstack.stack import Stack

TIPS = (
    {
        "title": "Отключили свет в Худжанде",
        "text": "Третий день без света на улице Ленина. Жители жалуются, в магазинах портятся "
        "продукты. В районной электросети отвечают, что ремонт займёт ещё неделю.",
        "country": "TJ",
        "location": "Худжанд, ул. Ленина",
        "contact_name": "Фарход",
        "contact_email": "farhod@example.org",
        "color": (40, 90, 160),
    },
    {
        "title": "На трассе Бишкек — Ош сошёл сель",
        "text": "Утром на 120-м километре дорогу перекрыл сель. Машины стоят в обе стороны, "
        "техники пока нет.",
        "country": "KG",
        "location": "трасса Бишкек — Ош, 120 км",
        "contact_phone": "+996 555 123 456",
        "color": (120, 90, 60),
    },
    {
        "title": "В Алматы открыли новый сквер",
        "text": "Во дворе домов на Абая вместо парковки разбили сквер: скамейки, деревья, "
        "детская площадка. Жильцы добивались этого два года.",
        "country": "KZ",
        "location": "Алматы, пр. Абая",
        "anonymous": "on",
        "color": (60, 140, 70),
    },
)


def photo(color: tuple[int, int, int], label: str) -> bytes:
    image = Image.new("RGB", (960, 640), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 920, 600), outline=(255, 255, 255), width=6)
    draw.text((80, 300), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def send_demo_tips(stack: Stack) -> int:
    """Send the demo tips (each with one photo); how many ingest accepted."""
    sent = 0
    with httpx.Client(base_url=stack.services["ingest"].url, timeout=30) as client:
        for n, tip in enumerate(TIPS, 1):
            fields = {k: str(v) for k, v in tip.items() if k != "color"}
            fields["consent"] = "on"
            color = tip["color"]
            assert isinstance(color, tuple)
            files = [("photos", (f"demo-{n}.jpg", photo(color, f"photo {n}"), "image/jpeg"))]
            resp = client.post("/api/v1/submissions", data=fields, files=files)
            sent += resp.status_code == 202
    return sent
