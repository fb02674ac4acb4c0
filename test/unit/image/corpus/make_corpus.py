#!/usr/bin/python3
"""Write the small synthetic images the image unit tests read.

Every file is drawn here from solid colours or a seeded random pattern, so
the corpus holds no third-party content.  Run it again to rebuild the files
(PIL 9.4 from Debian 12 wrote the checked-in ones).
"""

import io
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def save(image, name, **params):
    image.save(os.path.join(HERE, name), **params)


def main():
    # CMYK JPEG of one colour: PIL's RGB for it is stored next to it.
    cmyk = Image.new("CMYK", (16, 16), (0, 200, 200, 30))
    save(cmyk, "cmyk.jpg", quality=95)
    reference = Image.open(os.path.join(HERE, "cmyk.jpg")).convert("RGB").getpixel((8, 8))
    with open(os.path.join(HERE, "cmyk.rgb.txt"), "w") as out:
        out.write("%d %d %d\n" % reference)

    # 16 wide, 8 tall: left half red, right half blue; EXIF orientation 6
    # means "rotate 90 degrees clockwise to display", giving 8 wide, 16 tall
    # with red on top.
    pixels = np.zeros((8, 16, 3), dtype=np.uint8)
    pixels[:, :8] = (255, 0, 0)
    pixels[:, 8:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    save(Image.fromarray(pixels), "exif_rotate90.jpg", quality=95, exif=exif.tobytes())

    # Palette PNG: 4 colours in an 8x8 image.
    palette = Image.new("P", (8, 8))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0] + [0] * 756)
    palette.putdata([(x // 2) % 4 for x in range(64)])
    save(palette, "palette.png")

    # Random pattern and PIL's bilinear resizes of it (down and up).
    rng = np.random.default_rng(7)
    pattern = Image.fromarray(rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8))
    save(pattern, "pattern.png")
    save(pattern.resize((11, 7), Image.BILINEAR), "pattern_11x7.png")
    save(pattern.resize((60, 41), Image.BILINEAR), "pattern_60x41.png")
    save(pattern.resize((37, 5), Image.BILINEAR), "pattern_37x5.png")


if __name__ == "__main__":
    main()
