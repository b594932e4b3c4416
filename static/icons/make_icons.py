"""Draws the app's icons with Pillow: `python static/icons/make_icons.py`.

A white syringe-drop mark on the brand blue (#1d4f91, the theme colour). The
maskable icon keeps the mark inside the central 80% safe zone, on a full
bleed background, so Android's round or squircle masks never cut it.
"""
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BRAND = (29, 79, 145, 255)
WHITE = (255, 255, 255, 255)


def draw(size: int, *, maskable: bool = False, rounded: bool = True) -> Image.Image:
    scale = 4  # draw large, then downsample: smooth edges without anti-aliasing support
    big = size * scale
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable or not rounded:
        d.rectangle((0, 0, big, big), fill=BRAND)
    else:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BRAND)
    # the mark lives in the safe zone: 60% of the icon for maskable, 76% otherwise
    box = 0.60 if maskable else 0.76
    m0, m1 = big * (1 - box) / 2, big * (1 + box) / 2
    w = m1 - m0
    cx = big / 2
    # a drop: a circle with a triangle on top
    r = w * 0.30
    cy = m0 + w * 0.62
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=WHITE)
    d.polygon([(cx, m0 + w * 0.04), (cx - r * 0.92, cy - r * 0.38), (cx + r * 0.92, cy - r * 0.38)],
              fill=WHITE)
    # a blue plus inside the drop: a diary of care
    t, L = r * 0.22, r * 0.62
    d.rectangle((cx - t, cy - L, cx + t, cy + L), fill=BRAND)
    d.rectangle((cx - L, cy - t, cx + L, cy + t), fill=BRAND)
    return img.resize((size, size), Image.LANCZOS)


def small(img: Image.Image) -> Image.Image:
    """A 64-colour palette: the icons weigh a few KB (the phone fetches them with the page)."""
    return img.quantize(colors=64, method=Image.Quantize.FASTOCTREE)


def main() -> None:
    small(draw(192)).save(HERE / "icon-192.png", optimize=True)
    small(draw(512)).save(HERE / "icon-512.png", optimize=True)
    small(draw(512, maskable=True)).save(HERE / "icon-maskable-512.png", optimize=True)
    # iOS applies its own rounded mask and shows transparency as black: full bleed
    small(draw(180, rounded=False).convert("RGB")).save(HERE / "apple-touch-icon.png",
                                                         optimize=True)
    small(draw(32)).save(HERE / "favicon-32.png", optimize=True)
    draw(48).save(HERE / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
