"""What a running OneRoster server knows: its district, credentials, tokens, nonces, faults.

The HTTP layer (:mod:`~snapkit_oneroster.server`) asks it whether a request is authentic and
keeps query results here, computed once per district version.
"""

from __future__ import annotations

import collections
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from snapkit_oneroster.auth import (
    OAUTH1_METHODS,
    parse_authorization_header,
    sign,
    signature_base_string,
)
from snapkit_oneroster.district import DayChange, District
from snapkit_oneroster.faults import FaultCounter, Faults

AUTH_MODES = ("oauth2", "oauth1", "both")
"""Which schemes a server accepts."""

OAUTH1_WINDOW_SECONDS = 300
"""How far an OAuth 1.0a timestamp may be from the server's clock."""


class ServerState:
    """Everything a running server knows: the district, credentials, tokens, faults."""

    def __init__(
        self,
        district: District,
        *,
        auth: str,
        client_id: str,
        client_secret: str,
        faults: Faults,
        token_ttl: float,
        max_limit: int,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
        self.district = district
        self.auth = auth
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.max_limit = max_limit
        self.faults = FaultCounter(faults)
        self.lock = threading.RLock()
        self.api_requests = 0
        self._tokens: dict[str, float] = {}
        self._nonces: dict[tuple[str, str], float] = {}
        self._cache: collections.OrderedDict[tuple[Any, ...], list[str]] = collections.OrderedDict()

    # ---- credentials

    def credentials_match(self, client_id: str, client_secret: str) -> bool:
        """Constant-time check of a client id and secret."""
        ok_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        ok_secret = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        return ok_id and ok_secret

    def issue_token(self) -> str:
        """A new bearer token, valid for ``token_ttl`` seconds."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.token_ttl
        return token

    def revoke_tokens(self) -> None:
        """Forget every bearer token issued so far (clients must fetch new ones)."""
        with self.lock:
            self._tokens.clear()

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; counted faults start over and cached queries are dropped."""
        self.faults.reset(faults)
        with self.lock:
            self._cache.clear()

    def bearer_valid(self, token: str) -> bool:
        """Whether a bearer token was issued here and has not expired."""
        with self.lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > time.monotonic()

    def check_oauth1(
        self, method: str, url: str, header: str, query: list[tuple[str, str]]
    ) -> str | None:
        """Verify an OAuth 1.0a signed request; the reason it fails, or ``None``."""
        try:
            oauth = parse_authorization_header(header)
        except ValueError:
            return "the Authorization header is not an OAuth 1.0a header"
        required = (
            "oauth_consumer_key",
            "oauth_signature_method",
            "oauth_timestamp",
            "oauth_nonce",
            "oauth_signature",
        )
        missing = [p for p in required if p not in oauth]
        if missing:
            return f"the OAuth 1.0a header lacks {', '.join(missing)}"
        if oauth.get("oauth_version", "1.0") != "1.0":
            return "oauth_version must be 1.0"
        method_name = oauth["oauth_signature_method"]
        if method_name not in OAUTH1_METHODS:
            return f"oauth_signature_method must be one of {', '.join(OAUTH1_METHODS)}"
        if not hmac.compare_digest(oauth["oauth_consumer_key"].encode(), self.client_id.encode()):
            return "unknown oauth_consumer_key"
        try:
            stamp = int(oauth["oauth_timestamp"])
        except ValueError:
            return "oauth_timestamp is not an integer"
        now = time.time()
        if abs(now - stamp) > OAUTH1_WINDOW_SECONDS:
            return f"oauth_timestamp is more than {OAUTH1_WINDOW_SECONDS} s from the server's clock"
        params = query + [(k, v) for k, v in oauth.items() if k.startswith("oauth_")]
        base = signature_base_string(method, url, params)
        expected = sign(base, self.client_secret, method=method_name)
        if not hmac.compare_digest(expected.encode(), oauth["oauth_signature"].encode()):
            return "the OAuth 1.0a signature does not match"
        key = (oauth["oauth_nonce"], oauth["oauth_timestamp"])
        with self.lock:
            self._nonces = {
                k: t for k, t in self._nonces.items() if t > now - 2 * OAUTH1_WINDOW_SECONDS
            }
            if key in self._nonces:
                return "oauth_nonce was already used"
            self._nonces[key] = now
        return None

    # ---- district

    def advance(self, days: int = 1) -> list[DayChange]:
        """Advance the district ``days`` days."""
        with self.lock:
            changes = [self.district.advance_day() for _ in range(days)]
            self._cache.clear()
            return changes

    def cached(self, key: tuple[Any, ...], compute: Callable[[], list[str]]) -> list[str]:
        """A list of sourcedIds for a query, computed once per district version."""
        key = (*key, self.district.version)
        with self.lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        ids = compute()
        with self.lock:
            self._cache[key] = ids
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return ids
