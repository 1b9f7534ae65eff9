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


class AccountSuspendedError(IdentityError):
    status_code = 403
    slug = "account-suspended"
    title = "Account suspended"

    def __init__(self) -> None:
        super().__init__("This account is suspended.")


class TooManyAttemptsError(IdentityError):
    """Sign-in is slowed down after failures; the caller is told how long to wait."""

    status_code = 429
    slug = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"Too many failed sign-ins; try again in {retry_after_s} seconds.",
            headers={"Retry-After": str(retry_after_s)},
            retry_after_s=retry_after_s,
        )
        self.retry_after_s = retry_after_s


class TwoFactorRequiredError(IdentityError):
    status_code = 401
    slug = "two-factor-required"
    title = "Two-factor code needed"

    def __init__(self) -> None:
        super().__init__(
            "Staff accounts sign in with a code from the authenticator app (totp_code) or a "
            "recovery code (recovery_code)."
        )


class TwoFactorStateError(IdentityError):
    status_code = 409
    slug = "two-factor-state"
    title = "Two-factor authentication cannot change like this"


class InvalidCodeError(IdentityError):
    status_code = 400
    slug = "invalid-code"
    title = "Code not accepted"

    def __init__(self) -> None:
        super().__init__("That code is not right or has been used already.")


class RefreshTokenInvalidError(IdentityError):
    """Unknown, expired, revoked or reused: one error, so a thief learns nothing."""

    status_code = 401
    slug = "refresh-token-invalid"
    title = "Refresh token not accepted"

    def __init__(self) -> None:
        super().__init__("Sign in again: this refresh token cannot be used.")


class ResetTokenInvalidError(IdentityError):
    status_code = 400
    slug = "reset-token-invalid"
    title = "Password-reset link not accepted"

    def __init__(self) -> None:
        super().__init__("This password-reset link is not valid, used or expired; ask again.")


class OrganisationNotFoundError(IdentityError):
    status_code = 404
    slug = "organisation-not-found"
    title = "Organisation not found"

    def __init__(self) -> None:
        super().__init__("There is no organisation with that id.")


class OrganisationExistsError(IdentityError):
    status_code = 409
    slug = "organisation-exists"
    title = "Organisation exists"

    def __init__(self) -> None:
        super().__init__("An organisation with this code exists already.")


class NotPermittedError(IdentityError):
    """Signed in with a suitable role, but not for this member or organisation."""

    status_code = 403
    slug = "forbidden"
    title = "Not allowed"


class ApiClientNotFoundError(IdentityError):
    status_code = 404
    slug = "api-client-not-found"
    title = "API client not found"

    def __init__(self) -> None:
        super().__init__("There is no API client with that id.")


class InvalidClientError(IdentityError):
    """RFC 6749 5.2 ``invalid_client``: unknown, revoked, or a wrong secret."""

    status_code = 401
    slug = "invalid-client"
    title = "Client authentication failed"

    def __init__(self) -> None:
        super().__init__("The client id or secret is not right.", error="invalid_client")


class InvalidScopeError(IdentityError):
    status_code = 400
    slug = "invalid-scope"
    title = "Scope not granted"

    def __init__(self) -> None:
        super().__init__("This client may not ask for that scope.", error="invalid_scope")


class UnsupportedGrantError(IdentityError):
    status_code = 400
    slug = "unsupported-grant-type"
    title = "Grant type not supported"

    def __init__(self) -> None:
        super().__init__(
            "Only grant_type=client_credentials is supported.", error="unsupported_grant_type"
        )


class RecordNotFoundError(IdentityError):
    """An application, verification, document or reveal that does not exist, or that is not
    the caller's to see (its existence is not revealed either)."""

    status_code = 404
    slug = "not-found"
    title = "Not found"


class StateConflictError(IdentityError):
    """Decided already, superseded, or otherwise not in a state that allows this."""

    status_code = 409
    slug = "state-conflict"
    title = "Not possible in this state"


class AddressRefusedError(IdentityError):
    """An address that cannot be verified here: an unknown postcode, or outside London."""

    status_code = 422
    slug = "address-refused"
    title = "Address not accepted"


class AddressCodeInvalidError(IdentityError):
    status_code = 400
    slug = "address-code-invalid"
    title = "Code not accepted"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(
            f"That is not the code in the letter; {attempts_left} tries left.",
            attempts_left=attempts_left,
        )


class AddressCodeExpiredError(IdentityError):
    status_code = 410
    slug = "address-code-expired"
    title = "Code no longer valid"

    def __init__(self) -> None:
        super().__init__(
            "The letter's code has expired or was entered wrongly too often: ask for a new letter."
        )


class UploadTooLargeError(IdentityError):
    status_code = 413
    slug = "upload-too-large"
    title = "File too large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The file may be at most {max_bytes} bytes.", max_bytes=max_bytes)


class UploadTypeError(IdentityError):
    status_code = 415
    slug = "upload-type-refused"
    title = "File type not accepted"

    def __init__(self) -> None:
        super().__init__("Upload a JPEG or PNG photo or a PDF.")


class RevealExpiredError(IdentityError):
    status_code = 410
    slug = "reveal-expired"
    title = "Reveal no longer readable"

    def __init__(self) -> None:
        super().__init__("This reveal has been read already or its time ran out; ask again.")


class LetterLimitError(IdentityError):
    status_code = 429
    slug = "letter-limit"
    title = "Too many letters"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"At most {limit} letters are posted to a member in 30 days; enter the code of the "
            "last one, or upload a proof of address instead.",
            limit=limit,
        )
