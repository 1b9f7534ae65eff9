"""Pictures from staff and members, made safe to store and show: only JPEG, PNG and WebP;
size and dimensions bounded before anything is decoded; and the pixels re-encoded into a new
file, so nothing the camera or editor wrote beside them (EXIF with GPS position, XMP, ICC
profiles, comments, text chunks) survives. The photo is turned upright first, since its EXIF
orientation goes with the rest."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from services.alerts.config import AlertsSettings
from services.alerts.errors import (
    AlertInvalidError,
    ImageRefusedError,
    ImageTooLargeError,
    UnsupportedMediaTypeError,
)

# Pillow format name -> media type. Pillow tries only these when opening an upload.
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
JPEG_QUALITY = 85
WEBP_QUALITY = 85
# Room for the multipart boundaries and a description beside the picture itself.
MULTIPART_OVERHEAD_BYTES = 16 * 1024


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    mime_type: str
    width: int
    height: int

    @property
    def sha1(self) -> str:
        """SHA-1 of the stored file, as CAP 1.2 ``resource/digest`` requires."""
        return hashlib.sha1(self.data, usedforsecurity=False).hexdigest()


def clean_image(data: bytes, settings: AlertsSettings) -> CleanImage:
    if len(data) > settings.image_max_bytes:
        raise ImageTooLargeError(f"Pictures are limited to {settings.image_max_bytes} bytes.")
    try:
        # Opening reads the header only; the pixels are decoded by load(), after the check.
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            source_format = image.format or ""
            width, height = image.size
            _check_dimensions(width, height, settings)
            image.load()
            upright = ImageOps.exif_transpose(image)
            pixels = upright.convert(_pixel_mode(upright, source_format))
    except UnidentifiedImageError as error:
        raise UnsupportedMediaTypeError("Pictures must be JPEG, PNG or WebP.") from error
    except Image.DecompressionBombError as error:
        raise ImageRefusedError("The picture decodes to far too many pixels.") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageRefusedError("The picture is damaged or cannot be read.") from error
    # A new image from the bare pixels carries no metadata at all, whatever the source had.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if source_format == "JPEG":
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    elif source_format == "WEBP":
        clean.save(out, format="WEBP", quality=WEBP_QUALITY)
    else:
        clean.save(out, format="PNG", optimize=True)
    return CleanImage(
        data=out.getvalue(),
        mime_type=FORMATS.get(source_format, "image/png"),
        width=clean.width,
        height=clean.height,
    )


def _check_dimensions(width: int, height: int, settings: AlertsSettings) -> None:
    if max(width, height) > settings.image_max_side_px:
        raise ImageRefusedError(
            f"Pictures may be at most {settings.image_max_side_px} pixels on a side.",
            width=width,
            height=height,
        )
    if width * height > settings.image_max_pixels:
        raise ImageRefusedError(
            f"Pictures may have at most {settings.image_max_pixels} pixels.",
            width=width,
            height=height,
        )


def _pixel_mode(image: Image.Image, source_format: str) -> str:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if source_format == "JPEG":
        return "L" if image.mode == "L" else "RGB"
    return "RGBA" if has_alpha else "RGB"


async def read_picture_form(
    request: Request, settings: AlertsSettings, *, field: str = "file"
) -> tuple[bytes, FormData]:
    """The uploaded picture's bytes and the form's other fields, from a multipart/form-data
    body that is refused as soon as it passes the picture limit (never buffered beyond it)."""
    headers = request.headers
    if headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise UnsupportedMediaTypeError("Send the picture as multipart/form-data.")
    limit = settings.image_max_bytes + MULTIPART_OVERHEAD_BYTES
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ImageTooLargeError(f"Pictures are limited to {settings.image_max_bytes} bytes.")

    async def bounded() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise ImageTooLargeError(
                    f"Pictures are limited to {settings.image_max_bytes} bytes."
                )
            yield chunk

    parser = MultiPartParser(headers, bounded(), max_files=1, max_fields=2, max_part_size=4096)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise AlertInvalidError("The form cannot be read.", reason=error.message) from error
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise AlertInvalidError(f"Attach the picture as the form's {field!r} file.")
    try:
        return await upload.read(), form
    finally:
        await upload.close()
