"""Reading an uploaded proof or document: bounded in size, and typed by its first bytes, not by
what the client claims, so a file is what it says it is (JPEG, PNG or PDF)."""

from __future__ import annotations

from fastapi import UploadFile

from services.identity.errors import UploadTooLargeError, UploadTypeError

CHUNK_BYTES = 64 * 1024
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def sniff_content_type(content: bytes) -> str:
    for signature, content_type in _SIGNATURES:
        if content.startswith(signature):
            return content_type
    raise UploadTypeError()


async def read_upload(upload: UploadFile, *, max_bytes: int) -> tuple[str, bytes]:
    """The file's real content type and its bytes; refuses more than ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLargeError(max_bytes)
        chunks.append(chunk)
    content = b"".join(chunks)
    return sniff_content_type(content), content
