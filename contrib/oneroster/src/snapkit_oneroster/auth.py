"""Authentication for OneRoster 1.1: OAuth 2.0 client credentials and OAuth 1.0a signing.

:class:`OAuth2ClientCredentials` and :class:`OAuth1Signature` are ``httpx.Auth`` flows that
the client plugs into its ``httpx.Client``. The RFC 5849 primitives (:func:`percent_encode`,
:func:`signature_base_string`, :func:`sign`) are public so that the local server verifies
signatures with the same definition of the base string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from collections.abc import Generator, Iterable

import httpx

from snapkit_oneroster.errors import AuthenticationError, ConnectionFailedError

OAUTH1_METHODS = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}
"""The OAuth 1.0a signature methods OneRoster 1.1 uses, with their digests."""


# --------------------------------------------------------------------------- RFC 5849


def percent_encode(value: str) -> str:
    """Percent-encode per RFC 5849 §3.6 (unreserved characters kept, UTF-8 first)."""
    return urllib.parse.quote(value, safe="-._~")


def base_string_uri(url: str) -> str:
    """The base string URI of RFC 5849 §3.4.1.2: lower-case scheme and host, no default port,
    no query, no fragment."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """The normalized request parameters of RFC 5849 §3.4.1.3.2 (``oauth_signature`` and
    ``realm`` are left out)."""
    encoded = sorted(
        (percent_encode(k), percent_encode(v))
        for k, v in params
        if k not in ("oauth_signature", "realm")
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature base string of RFC 5849 §3.4.1.

    :param method: the HTTP method.
    :param url: the request URL; its query parameters are not read from here.
    :param params: every parameter to sign: query, ``oauth_*`` and form body parameters.
    """
    return "&".join(
        (
            percent_encode(method.upper()),
            percent_encode(base_string_uri(url)),
            percent_encode(normalized_parameters(params)),
        )
    )


def sign(base_string: str, consumer_secret: str, token_secret: str = "", *, method: str) -> str:
    """The base64 HMAC signature of a base string (RFC 5849 §3.4.2).

    :param method: ``HMAC-SHA256`` or ``HMAC-SHA1``.
    :raises ValueError: for another method.
    """
    try:
        digest = OAUTH1_METHODS[method]
    except KeyError:
        raise ValueError(f"unsupported OAuth 1.0a signature method {method!r}") from None
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    mac = hmac.new(key.encode(), base_string.encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def parse_authorization_header(header: str) -> dict[str, str]:
    """The parameters of an ``Authorization: OAuth ...`` header (values percent-decoded).

    :raises ValueError: when the header is not an OAuth header.
    """
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise ValueError("not an OAuth authorization header")
    params = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        params[urllib.parse.unquote(key)] = urllib.parse.unquote(value.strip().strip('"'))
    return params


def request_parameters(request: httpx.Request) -> list[tuple[str, str]]:
    """The query and form-body parameters of a request, as RFC 5849 §3.4.1.3.1 signs them."""
    params = list(urllib.parse.parse_qsl(request.url.query.decode(), keep_blank_values=True))
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params += urllib.parse.parse_qsl(request.content.decode(), keep_blank_values=True)
    return params


# --------------------------------------------------------------------------- httpx flows


class OAuth1Signature(httpx.Auth):
    """Signs every request with OAuth 1.0a (two-legged, no token), as OneRoster 1.1 requires.

    :param consumer_key: the client key.
    :param consumer_secret: the client secret.
    :param method: ``HMAC-SHA256`` (default) or ``HMAC-SHA1``.
    """

    def __init__(self, consumer_key: str, consumer_secret: str, method: str = "HMAC-SHA256"):
        if method not in OAUTH1_METHODS:
            raise ValueError(f"unsupported OAuth 1.0a signature method {method!r}")
        self.consumer_key = consumer_key
        self._secret = consumer_secret
        self.method = method

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        oauth = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_signature_method": self.method,
            "oauth_timestamp": str(int(time.time())),
            "oauth_nonce": secrets.token_hex(16),
            "oauth_version": "1.0",
        }
        params = request_parameters(request) + list(oauth.items())
        base = signature_base_string(request.method, str(request.url), params)
        oauth["oauth_signature"] = sign(base, self._secret, method=self.method)
        request.headers["Authorization"] = "OAuth " + ", ".join(
            f'{percent_encode(k)}="{percent_encode(v)}"' for k, v in oauth.items()
        )
        yield request

    def __repr__(self) -> str:
        return f"OAuth1Signature(consumer_key={self.consumer_key!r}, method={self.method!r})"


class OAuth2ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials: fetches a bearer token, caches it until shortly before it
    expires, and fetches a new one when it expires or the server answers 401.

    :param token_url: the token endpoint.
    :param client_id: the client id.
    :param client_secret: the client secret.
    :param scope: the scope to ask for, if any.
    :param credentials_in: ``"basic"`` (HTTP basic auth, default) or ``"form"`` (in the body).
    :param refresh_margin: seconds before expiry at which a token counts as expired.
    :param timeout: seconds for the token request.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        credentials_in: str = "basic",
        refresh_margin: float = 30.0,
        timeout: float = 60.0,
    ) -> None:
        if credentials_in not in ("basic", "form"):
            raise ValueError("credentials_in must be 'basic' or 'form'")
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.credentials_in = credentials_in
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
            self._forget(token)
            request.headers["Authorization"] = f"Bearer {self._current_token()}"
            yield request

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _current_token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - self.refresh_margin:
                self._token, self._expires_at = self._fetch()
            return self._token

    def _fetch(self) -> tuple[str, float]:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        auth: tuple[str, str] | None = (self.client_id, self._secret)
        if self.credentials_in == "form":
            data |= {"client_id": self.client_id, "client_secret": self._secret}
            auth = None
        started = time.monotonic()
        try:
            response = httpx.post(self.token_url, data=data, auth=auth, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(
                f"could not reach the OAuth2 token endpoint ({type(exc).__name__}); "
                "check the token URL and that the server is up"
            ) from exc
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"the OAuth2 token endpoint refused the client credentials "
                f"(HTTP {response.status_code}); check the client id and secret"
            )
        if response.status_code != 200:
            raise ConnectionFailedError(
                f"the OAuth2 token endpoint answered HTTP {response.status_code}; retry later",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = body["access_token"]
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(
                "the OAuth2 token endpoint answered without an access_token; "
                "check that the token URL is the provider's token endpoint"
            ) from None
        self.tokens_fetched += 1
        return str(token), started + expires_in

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r})"
        )
