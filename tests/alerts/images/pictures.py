"""Pictures for the tests, made with Pillow: with tell-tale metadata, or hostile."""

from __future__ import annotations

import io

from PIL import Image, PngImagePlugin

SECRET = "SECRET-METADATA-7731"
# EXIF tags: the GPS IFD pointer, and within it latitude, longitude and their references.
GPS_IFD = 0x8825
GPS_LATITUDE_REF, GPS_LATITUDE = 1, 2
IMAGE_DESCRIPTION = 0x010E
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    f'syntax-ns#"><rdf:Description>{SECRET}</rdf:Description></rdf:RDF></x:xmpmeta>'
).encode()


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = SECRET
    exif.get_ifd(GPS_IFD).update(
        {GPS_LATITUDE_REF: "N", GPS_LATITUDE: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}
    )
    return exif


def photo(format: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A picture in ``format`` whose EXIF names a GPS position and whose other metadata
    (comment, XMP, text chunk) carries ``SECRET``."""
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    if format == "JPEG":
        image.save(out, "JPEG", exif=exif_with_gps(), comment=SECRET.encode(), xmp=XMP)
    elif format == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", SECRET)
        image.save(out, "PNG", exif=exif_with_gps(), pnginfo=text)
    else:
        image.save(out, format, exif=exif_with_gps(), xmp=XMP)
    return out.getvalue()


def decompression_bomb() -> bytes:
    """A small PNG that decodes to 256 million pixels."""
    out = io.BytesIO()
    Image.new("1", (16_000, 16_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    return out.getvalue()
