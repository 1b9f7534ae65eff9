"""Identity's errors: each one renders as problem+json with its own status and slug."""

from __future__ import annotations

from shared.errors import TawnyError


class IdentityError(TawnyError):
    """Base of every error the identity service raises on purpose."""

    status_code = 400
    slug = "identity-error"
    title = "Identity request failed"


class InvalidCredentialsError(IdentityError):
    """Wrong email or wrong password: deliberately one error, so neither is revealed."""

    status_code = 401
    slug = "invalid-credentials"
    title = "Not signed in"

    def __init__(self) -> None:
        super().__init__("The email address or password is not right.")


class EmailNotVerifiedError(IdentityError):
    status_code = 403
    slug = "email-not-verified"
    title = "Email address not verified"

    def __init__(self) -> None:
        super().__init__("Verify your email address first: use the link we emailed to you.")


class VerificationTokenInvalidError(IdentityError):
    status_code = 400
    slug = "verification-token-invalid"
    title = "Verification link not recognised"

    def __init__(self) -> None:
        super().__init__("This verification link is not valid. Register again for a new one.")


class VerificationTokenExpiredError(IdentityError):
    status_code = 410
    slug = "verification-token-expired"
    title = "Verification link expired"

    def __init__(self) -> None:
        super().__init__("This verification link has expired. Register again for a new one.")


class VerificationTokenUsedError(IdentityError):
    status_code = 410
    slug = "verification-token-used"
    title = "Verification link already used"

    def __init__(self) -> None:
        super().__init__("This verification link has already been used; you can sign in.")


class MemberNotFoundError(IdentityError):
    status_code = 404
    slug = "member-not-found"
    title = "Member not found"

    def __init__(self) -> None:
        super().__init__("No member matches this access token any more.")


class ServiceUnavailableError(IdentityError):
    """Something identity needs is not there yet (a signing key, a free pseudonym)."""

    status_code = 503
    slug = "identity-unavailable"
    title = "Identity is not available"
