"""`LogTarget`: what a ``--log`` value names, and the log it opens.

Every command that takes ``--log`` turns it into a log here, so ``run`` and the
``log`` commands agree on what a value means: a file path is a `SqliteLog`; a
``nats://`` or ``tls://`` URL, or a comma-separated list of them (a cluster), is a
`JetStreamLog`, with ``--stream``, ``--subject-prefix``, ``--creds`` and
``--connect-timeout`` passed on. A URL may carry a user and password or a token:
it is only ever shown redacted (`redact_url`), and `LogTarget.log_args`, which
spells the options again for a command to paste, leaves such a URL out (the
commands then read it from ``$ACTORBUS_LOG``).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, final

from .._errors import ActorbusError
from .._log import JetStreamLog, SqliteLog, redact_url

if TYPE_CHECKING:
    from .._log import LogReader

__all__ = ["ENV", "BadLogTarget", "LogTarget", "add_log_options", "log_target"]

ENV = "ACTORBUS_LOG"
"""The environment variable a ``--log`` value comes from when none is given."""

_NATS_SCHEMES = ("nats", "tls")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# JetStreamLog's own defaults, so the options say nothing when left alone.
_STREAM = "ACTORBUS"
_PREFIX = "actorbus"
_CONNECT_TIMEOUT = 5.0


class BadLogTarget(ActorbusError):
    """A ``--log`` value (or its options) cannot name a log; the message says what to give."""


@final
@dataclass(frozen=True)
class LogTarget:
    """A log named on the command line: a SQLite file, or a JetStream stream on NATS."""

    value: str = field(repr=False)  # as given: a URL may hold a password
    servers: tuple[str, ...] = field(repr=False)  # empty for a file
    stream: str = _STREAM
    subject_prefix: str = _PREFIX
    creds: str | None = None
    connect_timeout: float = _CONNECT_TIMEOUT
    from_env: bool = False

    @property
    def nats(self) -> bool:
        """Whether this is a JetStream stream (asyncio only) rather than a file."""
        return bool(self.servers)

    @property
    def secret(self) -> bool:
        """Whether the URL carries a user, password or token."""
        return self.nats and redact_url(self.value) != self.value

    @property
    def shown(self) -> str:
        """The target as output may show it: a file path, or the redacted URL and stream."""
        if not self.nats:
            return self.value
        return f"{redact_url(self.value)} (stream {self.stream!r})"

    def open_log(self) -> SqliteLog | JetStreamLog:
        """Make the log (not yet opened).

        Raises:
            BadLogTarget: nats-py is missing, or a stream option is not valid.
        """
        if not self.nats:
            return SqliteLog(self.value)
        try:
            return JetStreamLog(
                list(self.servers),
                stream=self.stream,
                subject_prefix=self.subject_prefix,
                credentials=self.creds,
                connect_timeout=self.connect_timeout,
            )
        except ImportError as exc:  # the message says what to install
            raise BadLogTarget(str(exc)) from None
        except ValueError as exc:  # a stream name or subject prefix NATS would not take
            raise BadLogTarget(f"{exc} (see --stream and --subject-prefix)") from None

    def reader(self) -> LogReader:
        """Make the log's reader (not yet opened: use it with ``async with``).

        Raises:
            BadLogTarget: as `open_log`.
        """
        return self.open_log().reader()

    def log_args(self) -> list[str]:
        """Return the options that name this log again, for a command to paste.

        A URL holding a secret is left out (the command reads ``$ACTORBUS_LOG``),
        so it is never printed.
        """
        if not self.nats:
            return [self.value]
        args = [] if self.secret or self.from_env else ["--log", self.value]
        if self.stream != _STREAM:
            args += ["--stream", self.stream]
        if self.subject_prefix != _PREFIX:
            args += ["--subject-prefix", self.subject_prefix]
        if self.creds is not None:
            args += ["--creds", self.creds]
        if self.connect_timeout != _CONNECT_TIMEOUT:
            args += ["--connect-timeout", f"{self.connect_timeout:g}"]
        return args

    def paste_note(self) -> str | None:
        """Say how to point pasted commands at a URL `log_args` left out, if it did."""
        if not self.nats or not (self.secret or self.from_env):
            return None
        if self.from_env:
            return f"(these commands read the log URL from ${ENV}, as this run did)"
        return (
            f"(the log URL holds a password, so it is not printed: set {ENV} to it, "
            f"{redact_url(self.value)} with the secret in place of ***)"
        )


def add_log_options(
    parser: argparse.ArgumentParser, *, default: str | None, existing: bool = False
) -> None:
    """Add ``--log`` and the options of a NATS log to ``parser``.

    ``default`` is the ``--log`` value when neither it nor ``$ACTORBUS_LOG`` is
    given (None: one of them is required, see `log_target`). With ``existing``,
    the default applies only to a file that exists (a command that reads a log).
    """
    where = f"default: ${ENV}, else {default}" if default else f"default: ${ENV}"
    if default and existing:
        where += " if it exists"
    parser.add_argument(
        "--log",
        metavar="PATH|URL",
        help=f"a SQLite log file, or a nats:// or tls:// URL of a JetStream server ({where})",
    )
    nats = parser.add_argument_group("with a nats:// or tls:// --log")
    nats.add_argument("--stream", default=_STREAM, help=f"the stream (default {_STREAM})")
    nats.add_argument(
        "--subject-prefix", default=_PREFIX, help=f"its subjects' prefix (default {_PREFIX})"
    )
    nats.add_argument("--creds", metavar="FILE", help="a NATS .creds file (JWT and NKey seed)")
    nats.add_argument(
        "--connect-timeout",
        type=float,
        default=_CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to try to reach a server (default {_CONNECT_TIMEOUT:g})",
    )
    parser.set_defaults(log_default=default, log_default_existing=existing)


def log_target(args: argparse.Namespace, value: str | None = None) -> LogTarget:
    """Return the log that ``args`` name: ``value`` (a positional), ``--log``, or the default.

    Raises:
        BadLogTarget: none or two are given, the value is an unknown kind of URL,
            or NATS options come with a file.
    """
    if value is not None and args.log is not None:
        raise BadLogTarget(f"give the log once: {value!r} or --log, not both")
    value = value if value is not None else args.log
    from_env = False
    if value is None and os.environ.get(ENV):
        value, from_env = os.environ[ENV], True
    if value is None:
        value = args.log_default
        if value and args.log_default_existing and not os.path.exists(value):
            value = None
    if not value:
        here = f" (there is no {args.log_default} here)" if args.log_default else ""
        raise BadLogTarget(f"which log? give a file or nats:// URL with --log, or set {ENV}{here}")
    servers = _servers(value)
    if not servers:
        _refuse_nats_options(args)
        return LogTarget(value, ())
    if not args.connect_timeout > 0:
        raise BadLogTarget(f"--connect-timeout must be positive, not {args.connect_timeout:g}")
    return LogTarget(
        value,
        servers,
        args.stream,
        args.subject_prefix,
        args.creds,
        args.connect_timeout,
        from_env,
    )


def _servers(value: str) -> tuple[str, ...]:
    # The NATS URLs of a value, or none for a file path (which may hold a comma).
    parts = [part.strip() for part in value.split(",")]
    schemes = [_scheme(part) for part in parts]
    if all(scheme is None for scheme in schemes):
        return ()
    for part, scheme in zip(parts, schemes, strict=True):
        if scheme not in _NATS_SCHEMES:
            shown = redact_url(part) if scheme else part
            raise BadLogTarget(
                f"--log takes a file path, or nats:// or tls:// URLs (comma-separated "
                f"for a cluster), not {shown!r}"
            )
    return tuple(parts)


def _scheme(text: str) -> str | None:
    found = _SCHEME.match(text)
    return found.group(1).lower() if found else None


def _refuse_nats_options(args: argparse.Namespace) -> None:
    given = [
        option
        for option, value, default in (
            ("--stream", args.stream, _STREAM),
            ("--subject-prefix", args.subject_prefix, _PREFIX),
            ("--creds", args.creds, None),
            ("--connect-timeout", args.connect_timeout, _CONNECT_TIMEOUT),
        )
        if value != default
    ]
    if given:
        options = ", ".join(given)
        raise BadLogTarget(f"{options}: only with a nats:// or tls:// --log, not with a file")
