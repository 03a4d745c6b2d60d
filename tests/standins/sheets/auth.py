"""The OAuth side of the Sheets stand-in: the token endpoint google-auth's service-account flow
posts its signed JWT to, and the service-account key files the tests give to google-auth.

The endpoint checks what Google's does: the RS256 signature against the public key registered
for the ``kid`` in the JWT header, the issuer (the account's email), the audience, the lifetime
and that a scope was asked for. Note that google-auth always signs ``aud`` as
``https://oauth2.googleapis.com/token`` whatever ``token_uri`` it posts to, so that audience is
accepted (and the stand-in's own token URI too). Refusals are answered as Google answers them,
``{"error": "invalid_grant", ...}``, which google-auth raises as ``RefreshError``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions, jwt

from tests.standins.sheets.cells import ApiError

SPREADSHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_DRIVE = "https://www.googleapis.com/auth/drive"
READ_SCOPES = frozenset(
    {SPREADSHEETS_SCOPE, f"{SPREADSHEETS_SCOPE}.readonly", _DRIVE, f"{_DRIVE}.readonly"}
    | {f"{_DRIVE}.file"}
)
WRITE_SCOPES = frozenset({SPREADSHEETS_SCOPE, _DRIVE, f"{_DRIVE}.file"})
_SEE = "See https://developers.google.com/identity/sign-in/web/devconsole-project."
MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    f"login cookie or other valid authentication credential. {_SEE}"
)
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    f"cookie or other valid authentication credential. {_SEE}"
)


@functools.cache
def _rsa_pair(name: str) -> tuple[str, bytes]:
    """A 2048-bit RSA key pair per name, made once per test run (generating one takes a while)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@dataclass(frozen=True)
class ServiceAccountKey:
    email: str
    key_id: str
    private_pem: str
    public_pem: bytes

    @classmethod
    def make(cls, email: str, key_name: str = "default") -> ServiceAccountKey:
        """A key for ``email``; a different ``key_name`` gives a different RSA key."""
        private, public = _rsa_pair(key_name)
        key_id = hashlib.sha1(public + email.encode()).hexdigest()
        return cls(email, key_id, private, public)

    def info(self, token_uri: str, project_id: str) -> dict[str, Any]:
        """The JSON Google Cloud gives out for a service-account key."""
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": self.key_id,
            "private_key": self.private_pem,
            "client_email": self.email,
            "client_id": str(int(self.key_id[:15], 16)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": (
                f"https://www.googleapis.com/robot/v1/metadata/x509/{self.email}"
            ),
            "universe_domain": "googleapis.com",
        }

    def write(self, path: Path, token_uri: str, project_id: str) -> Path:
        path.write_text(json.dumps(self.info(token_uri, project_id), indent=2))
        return path


@dataclass
class Grant:
    email: str
    scopes: frozenset[str]
    expires: float


class TokenAuthority:
    """Registered keys and the access tokens issued against them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, lifetime: int = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.keys: dict[str, tuple[str, bytes]] = {}  # key id -> (email, public key PEM)
        self.grants: dict[str, Grant] = {}
        self.refusals: list[str] = []  # why token requests were refused, for test messages

    def register(self, key: ServiceAccountKey) -> None:
        self.keys[key.key_id] = (key.email, key.public_pem)

    def expire_all(self) -> None:
        """Every issued token stops working (google-auth then fetches a new one on the 401)."""
        for grant in self.grants.values():
            grant.expires = 0.0

    def exchange(self, form: dict[str, str], token_uri: str) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (HTTP status, JSON body)."""
        if form.get("grant_type") != JWT_BEARER:
            grant_type = form.get("grant_type")
            return self._refuse("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = form.get("assertion", "")
        try:
            header = jwt.decode_header(assertion)
        except (ValueError, exceptions.GoogleAuthError):
            return self._refuse("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
        registered = self.keys.get(header.get("kid", ""))
        if registered is None:
            return self._refuse("invalid_grant", "Invalid JWT Signature.")
        email, public = registered
        try:
            claims = jwt.decode(
                assertion,
                certs={header["kid"]: public},
                audience=[GOOGLE_TOKEN_AUDIENCE, token_uri],
                clock_skew_in_seconds=10,
            )
        except (ValueError, exceptions.GoogleAuthError) as error:
            if "signature" in str(error).lower():
                return self._refuse("invalid_grant", "Invalid JWT Signature.")
            return self._refuse("invalid_grant", f"Invalid JWT: {error}")
        if claims.get("iss") != email:
            return self._refuse("invalid_grant", "Invalid JWT: the issuer is not the key's owner.")
        if claims.get("exp", 0) - claims.get("iat", 0) > 3600:
            return self._refuse(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            return self._refuse(
                "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        token = f"ya29.standin.{secrets.token_urlsafe(24)}"
        self.grants[token] = Grant(email, scopes, self.clock() + self.lifetime)
        return 200, {"access_token": token, "expires_in": self.lifetime - 1, "token_type": "Bearer"}

    def _refuse(self, error: str, description: str) -> tuple[int, dict[str, Any]]:
        self.refusals.append(f"{error}: {description}")
        return 400, {"error": error, "error_description": description}

    def authorize(self, authorization: str | None, write: bool) -> ApiError | None:
        """None when ``Authorization`` carries a live token with a scope for the request."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return ApiError(401, MISSING_CREDENTIALS, "UNAUTHENTICATED")
        grant = self.grants.get(authorization[7:].strip())
        if grant is None or grant.expires <= self.clock():
            return ApiError(401, INVALID_CREDENTIALS, "UNAUTHENTICATED")
        if not grant.scopes & (WRITE_SCOPES if write else READ_SCOPES):
            return ApiError(
                403, "Request had insufficient authentication scopes.", "PERMISSION_DENIED"
            )
        return None
