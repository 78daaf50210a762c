"""Who is calling: a verified token (``AUTH_MODE=jwt``) or the X-Customer-ID header as given (``header``).

One DRF authentication class serves both modes and reads the mode per request, so that a test (or
an operator flipping a setting) needs no re-import. Credentials are checked where they are needed:
authentication only records what the caller presented (a customer, staff, nobody, or refused
credentials and why), and ``shop.access.DeclaredAccess`` turns that into 401/403 on the routes that
are not public. So a public route answers the same with or without a stale token, whether the
catalog page comes from the replay cache or from the view.
"""

from __future__ import annotations

import enum
import functools
import time
import uuid
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

CUSTOMER_HEADER = "X-Customer-ID"
AUTH_MODES = ("header", "jwt")
STAFF_ROLE = "staff"
HMAC_ALGORITHMS = ["HS256"]
JWKS_ALGORITHMS = ["RS256", "ES256"]


class CallerKind(enum.StrEnum):
    TRUSTED = "trusted"  # header mode: nothing verified, nothing refused; the header names the customer
    ANONYMOUS = "anonymous"  # jwt mode, no credentials
    CUSTOMER = "customer"  # jwt mode, a verified customer token
    STAFF = "staff"  # jwt mode, a verified token with the staff role, or a staff admin session
    REFUSED = "refused"  # jwt mode, credentials that did not verify (401)
    MISMATCHED = "mismatched"  # jwt mode, a valid token but an X-Customer-ID that is not its subject (403)
    UNVERIFIABLE = "unverifiable"  # jwt mode, the identity provider's keys cannot be fetched (503)


@dataclass(frozen=True)
class Caller:
    """``request.user`` on every API route. ``customer_id`` is whose data the caller acts on, if anyone's."""

    kind: CallerKind
    subject: str = ""
    customer_id: uuid.UUID | None = None
    refusal: str = ""

    # What Django and DRF code may ask of request.user.
    is_active = True
    pk = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind in (CallerKind.TRUSTED, CallerKind.CUSTOMER, CallerKind.STAFF)

    @property
    def is_anonymous(self) -> bool:
        return not self.is_authenticated

    @property
    def is_staff(self) -> bool:
        return self.kind is CallerKind.STAFF

    @property
    def verified(self) -> bool:
        return self.kind in (CallerKind.CUSTOMER, CallerKind.STAFF)

    @property
    def key(self) -> str:
        """Who this is, for throttling and idempotency keys: the token's subject, or the header as given."""
        return f"{self.kind}:{self.subject}"

    def __str__(self) -> str:
        return self.key


def anonymous() -> Caller:
    """DRF's UNAUTHENTICATED_USER: no authenticator recognised the request."""
    return Caller(CallerKind.ANONYMOUS)


def auth_mode() -> str:
    mode = settings.AUTH_MODE
    if mode not in AUTH_MODES:
        raise ImproperlyConfigured(f"AUTH_MODE must be one of {AUTH_MODES}, not {mode!r}.")
    return mode


# --- Tokens -----------------------------------------------------------------------------------


class TokenRefused(Exception):
    """A bearer token that does not verify; the message is safe to show the caller."""


class KeysUnavailable(exceptions.APIException):
    """The identity provider's keys cannot be fetched: the caller's token is not at fault."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service cannot fetch the keys to verify tokens right now."
    default_code = "keys_unavailable"


class TokenVerifier:
    """Verifies a JWT: HS256 with the shared secret, RS256/ES256 with the keys of a JWKS URL; nothing else.

    The JWKS client caches the key set and, on an unknown ``kid``, fetches it once more (not more
    often than ``AUTH_JWKS_COOLDOWN`` seconds), which is how a key rotation at the provider arrives.
    """

    def __init__(
        self,
        *,
        secret: str,
        jwks_url: str,
        issuer: str,
        audience: str,
        leeway: int,
        jwks_lifespan: int,
        jwks_cooldown: int,
    ):
        if not secret and not jwks_url:
            raise ImproperlyConfigured("AUTH_MODE=jwt needs AUTH_JWT_SECRET or AUTH_JWKS_URL.")
        self.secret = secret
        self.issuer = issuer or None
        self.audience = audience or None
        self.leeway = leeway
        self.jwks = (
            jwt.PyJWKClient(
                jwks_url, cache_keys=True, lifespan=jwks_lifespan, cooldown_duration=jwks_cooldown, timeout=5
            )
            if jwks_url
            else None
        )

    @classmethod
    def from_settings(cls) -> TokenVerifier:
        return cls(
            secret=settings.AUTH_JWT_SECRET,
            jwks_url=settings.AUTH_JWKS_URL,
            issuer=settings.AUTH_JWT_ISSUER,
            audience=settings.AUTH_JWT_AUDIENCE,
            leeway=settings.AUTH_JWT_LEEWAY,
            jwks_lifespan=settings.AUTH_JWKS_LIFESPAN,
            jwks_cooldown=settings.AUTH_JWKS_COOLDOWN,
        )

    def claims(self, token: str) -> dict:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm in HMAC_ALGORITHMS and self.secret:
                key = self.secret
            elif algorithm in JWKS_ALGORITHMS and self.jwks is not None:
                key = self.jwks.get_signing_key_from_jwt(token).key
            else:
                raise TokenRefused(f"Tokens signed with {algorithm!r} are not accepted.")
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable() from exc
        except jwt.PyJWKClientError as exc:
            raise TokenRefused("The token was signed with a key this platform does not know.") from exc
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("The token has expired.") from exc
        except (jwt.InvalidIssuerError, jwt.InvalidAudienceError) as exc:
            raise TokenRefused("The token was not issued for this platform.") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRefused("The token's signature is not valid.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"The token has no {exc.claim!r} claim.") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused("The token is malformed.") from exc


@functools.cache
def token_verifier() -> TokenVerifier:
    return TokenVerifier.from_settings()


@receiver(setting_changed)
def _forget_verifier(*, setting: str, **kwargs) -> None:
    if setting.startswith("AUTH_"):
        token_verifier.cache_clear()


def caller_from_claims(claims: dict) -> Caller:
    """``sub`` is the customer id; a ``roles`` claim containing "staff" marks staff (whose sub may be any id)."""
    subject = str(claims["sub"])
    roles = claims.get("roles") or []
    is_staff = isinstance(roles, list | tuple) and STAFF_ROLE in roles
    try:
        customer_id = uuid.UUID(subject)
    except ValueError:
        if not is_staff:
            raise TokenRefused("The token's subject is not a customer id.") from None
        customer_id = None
    return Caller(CallerKind.STAFF if is_staff else CallerKind.CUSTOMER, subject=subject, customer_id=customer_id)


def issue_token(*, subject: str, staff: bool = False, lifetime: int = 3600, secret: str | None = None) -> str:
    """A token signed with AUTH_JWT_SECRET, as an identity provider would issue it: for local use and tests."""
    secret = secret or settings.AUTH_JWT_SECRET
    if not secret:
        raise ImproperlyConfigured("Issuing a token needs AUTH_JWT_SECRET.")
    now = int(time.time())
    claims = {"sub": subject, "iat": now, "exp": now + lifetime}
    if staff:
        claims["roles"] = [STAFF_ROLE]
    if settings.AUTH_JWT_ISSUER:
        claims["iss"] = settings.AUTH_JWT_ISSUER
    if settings.AUTH_JWT_AUDIENCE:
        claims["aud"] = settings.AUTH_JWT_AUDIENCE
    return jwt.encode(claims, secret, algorithm="HS256")


# --- DRF --------------------------------------------------------------------------------------


class CallerAuthentication(BaseAuthentication):
    """Header mode: a trusted caller. JWT mode: ``Authorization: Bearer``, else a staff admin session.

    Never raises for bad credentials (see the module docstring): the caller is then REFUSED, with why.
    """

    _session = SessionAuthentication()

    def authenticate(self, request: Request):
        if auth_mode() == "header":
            return Caller(CallerKind.TRUSTED, subject=request.headers.get(CUSTOMER_HEADER, "").strip()), None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            return self._staff_session(request)
        if scheme.lower() != "bearer" or not token.strip():
            return Caller(CallerKind.REFUSED, refusal="Send the token as 'Authorization: Bearer <token>'."), None
        try:
            caller = caller_from_claims(token_verifier().claims(token.strip()))
        except TokenRefused as refused:
            return Caller(CallerKind.REFUSED, refusal=str(refused)), None
        except KeysUnavailable as unavailable:
            return Caller(CallerKind.UNVERIFIABLE, refusal=str(unavailable.detail)), None
        header = request.headers.get(CUSTOMER_HEADER)
        if header is not None and header.strip() != caller.subject:
            return Caller(CallerKind.MISMATCHED, refusal=f"{CUSTOMER_HEADER} must be the token's subject."), None
        return caller, token

    def _staff_session(self, request: Request):
        """A staff member logged into the admin may use the browsable API with their session (CSRF-checked)."""
        result = self._session.authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        return Caller(CallerKind.STAFF, subject=f"session:{result[0].get_username()}"), None

    def authenticate_header(self, request: Request) -> str | None:
        if auth_mode() == "header":
            return None
        caller = getattr(request, "_user", None)
        if isinstance(caller, Caller) and caller.kind is CallerKind.REFUSED:
            return 'Bearer realm="shop", error="invalid_token"'
        return 'Bearer realm="shop"'


def caller_of(request: Request) -> Caller:
    return request.user


def acting_customer(request: Request) -> uuid.UUID:
    """The customer a cart or order request acts for: the token's subject, or the header as given.

    Header mode: the header is required (400 when missing or malformed), as it always was.
    """
    caller = caller_of(request)
    if caller.kind is CallerKind.TRUSTED:
        return _header_customer_id(request, required=True)
    if caller.customer_id is None:
        raise exceptions.PermissionDenied("This route acts on the caller's own data: it needs a customer's token.")
    return caller.customer_id


def customer_scope(request: Request) -> uuid.UUID | None:
    """Whose rows the caller may see on an owner's route: their own, or everyone's (None) for staff.

    Header mode: the customer the header names when it is sent (as before), everyone's without it.
    """
    caller = caller_of(request)
    if caller.kind is CallerKind.TRUSTED:
        return _header_customer_id(request, required=False)
    return None if caller.is_staff else caller.customer_id


def _header_customer_id(request: Request, *, required: bool) -> uuid.UUID | None:
    raw = request.headers.get(CUSTOMER_HEADER)
    if raw is None and not required:
        return None
    if not raw:
        raise exceptions.ValidationError({CUSTOMER_HEADER: ["This header is required."]})
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise exceptions.ValidationError({CUSTOMER_HEADER: ["Must be a valid UUID."]}) from None
