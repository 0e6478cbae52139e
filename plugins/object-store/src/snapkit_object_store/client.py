"""The S3 client and what its errors mean to a store: typed, one line, no secrets.

The store talks to S3 through botocore (via boto3's client), which sends the conditional
headers (``If-None-Match: *``, ``If-Match: <etag>``) a store's guarantees rest on. Errors are
mapped to :class:`snapkit.errors.StoreError` naming the endpoint and bucket and what to do:
an unreachable endpoint, wrong credentials, a missing bucket.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from snapkit.errors import StoreError

CONDITION_FAILED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
MISSING = {"NoSuchKey", "404", "NotFound"}
_AUTH = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "403",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}


_SESSION: Any = None
"""One boto3 session per process: its loaded service models are shared by every client."""
_SESSION_LOCK = threading.Lock()


class ConditionFailed(Exception):
    """A conditional write was refused: the object exists, or its ETag changed (HTTP 412)."""


@frozen
class Target:
    """Where the store lives: endpoint, bucket, key prefix (ending in ``/`` or empty), region."""

    endpoint_url: str | None
    bucket: str
    prefix: str
    region: str

    @property
    def location(self) -> str:
        """``s3://bucket/prefix`` at the endpoint, for messages (never a secret)."""
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where


def make_client(
    target: Target,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    max_attempts: int = 3,
) -> Any:
    """An S3 client for ``target``; credentials from the arguments, else the environment."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=target.region,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        s3={"addressing_style": "path"},
        max_pool_connections=16,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    with _SESSION_LOCK:
        global _SESSION
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        session = _SESSION
        return session.client(
            "s3",
            endpoint_url=target.endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ``ClientError`` (or its HTTP status), else ``None``."""
    response: Mapping[str, Any] | None = getattr(exc, "response", None)
    if not response:
        return None
    code = str(response.get("Error", {}).get("Code") or "")
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
    return code or status or None


def is_condition_failed(exc: BaseException) -> bool:
    """Whether a conditional write was refused (412, or 409 for a concurrent one)."""
    response: Mapping[str, Any] | None = getattr(exc, "response", None)
    if not response:
        return False
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
    return error_code(exc) in CONDITION_FAILED or status in {"412", "409"}


def is_missing(exc: BaseException) -> bool:
    """Whether a request failed because the object does not exist."""
    response: Mapping[str, Any] | None = getattr(exc, "response", None)
    if not response:
        return False
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
    return error_code(exc) in MISSING or (status == "404" and error_code(exc) != "NoSuchBucket")


def store_error(exc: BaseException, target: Target, doing: str) -> StoreError:
    """A one-line :class:`StoreError` for a failed S3 request (no secrets in it)."""
    from botocore.exceptions import (
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    where = target.location
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return StoreError(
            f"cannot reach the S3 endpoint for {where} while {doing}",
            hint="check [store] endpoint_url and that the S3 server is up and reachable",
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return StoreError(
            f"no S3 credentials for {where} while {doing}",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or give access_key_id and "
            'secret_access_key as {env = "NAME"} in [store])',
        )
    code = error_code(exc)
    if code == "NoSuchBucket":
        return StoreError(
            f"the bucket {target.bucket!r} does not exist at "
            f"{target.endpoint_url or 'AWS'} ({doing})",
            hint="create the bucket, or fix [store] bucket",
        )
    if code in _AUTH:
        return StoreError(
            f"S3 refused the credentials for {where} ({code}) while {doing}",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy",
        )
    if code is not None:
        return StoreError(
            f"S3 request failed for {where} ({code}) while {doing}",
            hint="check the S3 server's logs; retry when it is healthy",
        )
    return StoreError(
        f"S3 request failed for {where} while {doing}: {type(exc).__name__}",
        hint="check the S3 server and the network; retry when it is healthy",
    )
