"""An alert's pictures as the API describes them (the bytes are served on their own)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.alerts import models
from services.alerts.authoring.schemas import HEADLINE_PATTERN
from services.alerts.errors import AlertInvalidError
from services.alerts.models import IMAGE_DESCRIPTION_MAX_LENGTH


class ImageDescription(BaseModel):
    """What the picture shows, for people who cannot see it (CAP ``resourceDesc``)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    description: str = Field(
        min_length=1, max_length=IMAGE_DESCRIPTION_MAX_LENGTH, pattern=HEADLINE_PATTERN
    )

    @classmethod
    def from_form(cls, value: object) -> ImageDescription:
        try:
            return cls.model_validate({"description": value if isinstance(value, str) else None})
        except ValidationError as error:
            raise AlertInvalidError(
                "Describe the picture in the form's 'description' field (1 to "
                f"{IMAGE_DESCRIPTION_MAX_LENGTH} characters, one line)."
            ) from error


class ImageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "position": 1,
                    "description": "CCTV still of the suspect's van",
                    "mime_type": "image/jpeg",
                    "size_bytes": 183422,
                    "width": 1280,
                    "height": 720,
                    "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
                    "url": "https://tawny.london/api/alerts/alerts/7f0c2a52-3c1e-4a5e-9a7b-"
                    "2f4d8f7e1b10/images/1",
                }
            ]
        }
    )

    position: int = Field(description="1 to 3, in the order shown")
    description: str
    mime_type: str
    size_bytes: int = Field(description="Of the stored, re-encoded file")
    width: int
    height: int
    sha1: str = Field(description="SHA-1 of the stored file, hex (CAP resource digest)")
    url: str

    @classmethod
    def from_model(cls, image: models.AlertImage, *, base_url: str) -> ImageOut:
        return cls(
            position=image.position,
            description=image.description,
            mime_type=image.mime_type,
            size_bytes=image.size_bytes,
            width=image.width,
            height=image.height,
            sha1=image.sha1,
            url=image_url(base_url, image),
        )


def image_url(base_url: str, image: models.AlertImage) -> str:
    return f"{base_url}/alerts/{image.alert_id}/images/{image.position}"
