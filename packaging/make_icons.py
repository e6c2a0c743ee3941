"""Draw the application icon at every size the platforms need (PNG set, .ico, .icns) from one design.

Run once after changing the design: `python packaging/make_icons.py`. The outputs are committed in resources/icons.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"


def draw(size: int = 1024) -> Image.Image:
    """A rounded tile with two separated clusters of points and a check mark: 'see that it really learned'."""
    scale = size / 1024
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    tile = Image.new("RGBA", (size, size))
    top, bottom = (22, 110, 140), (32, 56, 120)
    gradient = ImageDraw.Draw(tile)
    for y in range(size):
        t = y / (size - 1)
        gradient.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle([40 * scale, 40 * scale, 984 * scale, 984 * scale], radius=200 * scale, fill=255)
    image.paste(tile, (0, 0), mask)
    pen = ImageDraw.Draw(image)
    clusters = (((330, 360), (255, 196, 87)), ((640, 300), (129, 230, 217)), ((420, 640), (246, 130, 130)))
    offsets = ((0, 0), (-70, 40), (60, 55), (-20, -75), (75, -30), (-60, -40))
    for (cx, cy), colour in clusters:
        for dx, dy in offsets:
            r = 34 * scale
            x, y = (cx + dx) * scale, (cy + dy) * scale
            pen.ellipse([x - r, y - r, x + r, y + r], fill=(*colour, 255))
    check = [(560 * scale, 700 * scale), (680 * scale, 815 * scale), (880 * scale, 560 * scale)]
    pen.line(check, fill=(255, 255, 255, 255), width=int(70 * scale), joint="curve")
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    master = draw()
    for size in SIZES:
        icon = master.resize((size, size), Image.Resampling.LANCZOS)
        if size <= 32:
            icon = icon.filter(ImageFilter.UnsharpMask(radius=1, percent=60))
        icon.save(OUT / f"workbench-{size}.png")
    master.resize((256, 256), Image.Resampling.LANCZOS).save(OUT / "workbench.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    master.resize((512, 512), Image.Resampling.LANCZOS).save(OUT / "workbench.icns")
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
