"""Images are re-encoded without their metadata and made in the sizes readers get (pure Pillow,
no services), and our inline photos point at those sizes."""

import io

import pytest
from PIL import Image

from tests.publisher.conftest import jpeg
from xabar.publisher.content import inline_media_ids, responsive_images, sanitize_html
from xabar.publisher.errors import BadMedia, MediaTooLarge
from xabar.publisher.images import WIDTHS, prepare_image, variant_widths

LIMITS = {"max_bytes": 10**7, "max_pixels": 10**7}
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def camera_jpeg(width: int = 1200, height: int = 800) -> bytes:
    """A photo as a phone writes it: EXIF with GPS, camera and orientation (rotated 90°), an
    ICC profile, XMP and a comment."""
    img = Image.new("RGB", (width, height), (20, 120, 200))
    img.paste((250, 10, 10), (0, 0, width // 4, height // 4))  # a red top-left corner
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    exif[ORIENTATION] = 6  # shown rotated 90° clockwise
    exif[GPS_IFD] = {1: "N", 2: (43.0, 15.0, 30.0), 3: "E", 4: (76.0, 57.0, 0.0)}
    out = io.BytesIO()
    img.save(
        out,
        "JPEG",
        exif=exif,
        icc_profile=b"fake-icc-profile" * 4,
        comment=b"shot at home",
        xmp=b"<x:xmpmeta>secret place</x:xmpmeta>",
    )
    return out.getvalue()


def test_a_camera_photo_is_re_encoded_upright_and_without_exif_gps_or_profiles() -> None:
    raw = camera_jpeg()
    with Image.open(io.BytesIO(raw)) as before:  # the fixture carries what it should
        assert before.getexif().get_ifd(GPS_IFD)
        assert before.info.get("icc_profile") and before.info.get("comment")
    prepared = prepare_image(raw, **LIMITS)
    for encoded in (prepared.original, *prepared.variants):
        assert b"PhoneMaker" not in encoded.data and b"secret place" not in encoded.data
        with Image.open(io.BytesIO(encoded.data)) as after:
            exif = after.getexif()
            assert not exif.get_ifd(GPS_IFD) and ORIENTATION not in exif and 0x010F not in exif
            assert "icc_profile" not in after.info and "comment" not in after.info
            assert "xmp" not in after.info and "exif" not in after.info
            assert after.width < after.height  # turned upright by its orientation
            # the red corner is now top-right: rotated, not just relabelled
            red = after.convert("RGB").getpixel((after.width - 5, 5))
            assert isinstance(red, tuple) and red[0] > 200 and red[2] < 60
    assert (prepared.original.width, prepared.original.height) == (800, 1200)
    assert prepared.original.media_type == "image/jpeg"


def test_sizes_are_each_width_in_webp_and_jpeg_never_enlarged() -> None:
    prepared = prepare_image(jpeg(2000, 1000), **LIMITS)
    made = [(v.media_type, v.width, v.height) for v in prepared.variants]
    assert made == [(t, w, w // 2) for w in WIDTHS for t in ("image/webp", "image/jpeg")]
    for v in prepared.variants:
        with Image.open(io.BytesIO(v.data)) as img:
            assert img.size == (v.width, v.height)
            assert img.format == {"image/webp": "WEBP", "image/jpeg": "JPEG"}[v.media_type]
    small = prepare_image(jpeg(600, 300), **LIMITS)
    assert sorted({v.width for v in small.variants}) == [480, 600]
    assert variant_widths(300) == [300]


def test_transparent_png_keeps_alpha_in_webp_and_gets_white_behind_in_jpeg() -> None:
    png = io.BytesIO()
    Image.new("RGBA", (100, 50), (255, 0, 0, 0)).save(png, "PNG")
    prepared = prepare_image(png.getvalue(), **LIMITS)
    assert prepared.original.media_type == "image/png"
    by_type = {v.media_type: v for v in prepared.variants}
    with Image.open(io.BytesIO(by_type["image/webp"].data)) as webp:
        assert webp.mode == "RGBA" and webp.getpixel((5, 5))[3] == 0  # type: ignore[index]
    with Image.open(io.BytesIO(by_type["image/jpeg"].data)) as jpg:
        assert min(jpg.convert("RGB").getpixel((5, 5))) > 240  # type: ignore[arg-type]


def test_what_is_not_a_whole_image_or_is_too_big_is_refused_in_our_words() -> None:
    for junk in (b"GIF89a....", jpeg()[:200], b""):
        with pytest.raises(BadMedia):
            prepare_image(junk, **LIMITS)
    with pytest.raises(MediaTooLarge) as caught:
        prepare_image(jpeg(300, 300), max_bytes=10**6, max_pixels=300 * 299)
    assert "точек" in caught.value.message
    with pytest.raises(MediaTooLarge):
        prepare_image(jpeg(), max_bytes=100, max_pixels=10**6)


BASE = "https://pub.example/media/"
ID = "a" * 32
SIZES = {ID: [(f"{BASE}{ID}/480.jpg", 480, 320), (f"{BASE}{ID}/960.jpg", 960, 640)]}


def test_our_inline_photos_point_at_their_sizes_and_foreign_ones_are_left_alone() -> None:
    body = sanitize_html(
        f'<p>a</p><img src="{BASE}{ID}" alt="Мост &quot;Дружба&quot;" width="10">'
        '<img src="https://elsewhere.example/x.jpg" srcset="javascript:alert(1) 1w" alt="">'
        f'<img src="/media/{ID}/480.jpg" alt="">'
    )
    assert "srcset" not in body  # the sanitizer never keeps an editor's srcset
    assert inline_media_ids(body, BASE) == [ID]
    out = responsive_images(body, BASE, SIZES)
    ours = (
        f'<img src="{BASE}{ID}/960.jpg" alt="Мост &quot;Дружба&quot;" width="960" height="640" '
        f'srcset="{BASE}{ID}/480.jpg 480w, {BASE}{ID}/960.jpg 960w" '
        'sizes="(max-width: 860px) 100vw, 780px">'
    )
    assert out.startswith("<p>a</p>" + ours)
    assert '<img src="https://elsewhere.example/x.jpg" alt="">' in out
    assert out.count("srcset=") == 2  # the relative one is ours too
    assert responsive_images(sanitize_html(out), BASE, SIZES) == out  # saving again: the same
    assert responsive_images(body, BASE, {}) == body  # sizes unknown: untouched
