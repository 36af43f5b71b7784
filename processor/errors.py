"""Every error srguard raises, in one tree, and the exit status each one ends a command with.

    SrguardError                      exit 1 unless a subclass says otherwise; its text is the one line printed
    ├── UsageError                    exit 2: bad flags, settings or input; nothing was done
    │   ├── SettingError              a setting that validates alone but cannot be run with
    │   │   ├── UntrustedCertificatesRefused
    │   │   ├── TopicLosesHistory     a reference topic that compaction or retention would thin out
    │   │   └── AclsTooWide           strict_acls: run's principal may write what decides its decisions
    │   ├── ConfigFileError           the TOML file
    │   ├── LoadError                 a reference CSV as a whole (missing, unreadable, wrong header)
    │   ├── BadInput                  a file, time or argument the command cannot use
    │   ├── TopicMissing              a topic the command needs does not exist
    │   ├── KafkaUnreachable          the cluster did not answer at start
    │   ├── PermissionDenied          the broker refuses what a command checks at start (an ACL missing)
    │   └── StackError                the local development stack
    │       └── KafkaUnavailable      Apache Kafka cannot be started here
    ├── NotDelivered                  outputs the broker did not confirm (nothing stored as done)
    ├── HistoryIncomplete             a history read that could not reach the end of a partition
    ├── ReferenceLost                 exit 5: Redis does not hold the whole reference data
    ├── FeedNotReady                  exit 5: the reference feed did not catch up in time
    ├── FeedStopped                   exit 7: the reference feed's loop ended
    ├── DlqFlood                      exit 3: too much of the input dead-lettered
    └── ProducerFenced                exit 4: the transactional producer can go no further
    RecordError                       one record, never the process: the record goes to the DLQ or is rejected
    ├── InvalidIdentifier             an EUI-64, MPAN or MPRN that is not one
    ├── OverlappingHolders            two parties would hold one entity at the same time
    ├── DecodeError                   not a valid record of the expected schema (``error_class`` labels it)
    │   └── DuisError                 not a DUIS Request srguard can read
    └── CertificateError              a certificate the rule cannot accept (``reason`` is the reject reason)

Foreign errors (KafkaException, RedisError, OSError) reaching the command line end it with exit 1, or 4 for
a fatal Kafka error; the command line has one handler for all of them (processor.cli).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """``srguard``'s exit statuses; README's table documents each."""

    OK = 0
    FAILED = 1  # the command ran and found what it reports as failure (rejected lines, a missing record)
    USAGE = 2  # bad flags, settings or input: nothing was done
    DLQ_FLOOD = 3
    FENCED = 4
    NOT_READY = 5
    SHUTDOWN_TIMEOUT = 6
    FEED_STOPPED = 7
    EMPTY_WINDOW = 8  # a history window selected nothing (``--allow-empty`` accepts it)
    STALLED = 9  # ``run``: the processing loop did not move for ``liveness_timeout_s``; restart it
    ABORTED = 10  # ``run``, ``feed``: a second SIGTERM/SIGINT while stopping: stopped at once


class SrguardError(Exception):
    """An error a command ends on: its text is the one line the user reads, ``exit_code`` the status."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(SrguardError):
    exit_code = ExitCode.USAGE


class SettingError(UsageError, ValueError):
    """Settings that validate one by one but cannot be run with: the message names the setting and the fix."""


class UntrustedCertificatesRefused(SettingError):
    """Enforce mode without a trust store, and the user did not say that is meant."""


class ConfigFileError(UsageError, ValueError):
    """The TOML settings file cannot be read or holds what srguard does not know."""


class LoadError(UsageError, ValueError):
    """The file as a whole cannot be loaded (missing, unreadable, wrong header)."""


class BadInput(UsageError, ValueError):
    """A file, time or argument the command cannot use: the text says which and why."""


class TopicMissing(UsageError, LookupError):
    """A topic the command reads does not exist on the cluster."""


class KafkaUnreachable(UsageError):
    """The Kafka cluster did not answer a command at its start: the text names the address and the setting."""


class PermissionDenied(UsageError):
    """The broker refuses an operation a command needs before it starts: the text names the operation and the
    resource (what to grant)."""


class StackError(UsageError, RuntimeError):
    """The local development stack cannot be started, found or stopped."""


class KafkaUnavailable(StackError):
    """Apache Kafka cannot be started here; the message says why and what to do."""


class AclsTooWide(SettingError):
    """``strict_acls``: the processor's principal may write its input or the reference data (or the broker will
    not say): whoever can, decides which certificates pass."""


class TopicLosesHistory(SettingError):
    """A reference topic configured to drop records an as-of look-up needs (compaction or finite retention)."""


class NotDelivered(SrguardError, RuntimeError):
    """Records the broker did not confirm: the position was not stored, so running again resumes before them."""


class HistoryIncomplete(SrguardError, RuntimeError):
    """A history read stopped short of a partition's end: no records came for the idle timeout."""


class ReferenceLost(SrguardError):
    """Redis does not hold the whole reference data (no epoch: it lost its data, or the feed is rebuilding it):
    nothing may be decided on what it holds."""

    exit_code = ExitCode.NOT_READY


class FeedNotReady(SrguardError, RuntimeError):
    """The reference feed did not catch up within the start-up bound."""

    exit_code = ExitCode.NOT_READY


class FeedStopped(SrguardError, RuntimeError):
    """The reference feed's loop ended: the registration view no longer moves, so nothing may be decided."""

    exit_code = ExitCode.FEED_STOPPED


class DlqFlood(SrguardError, RuntimeError):
    """Too much of the input is undecodable: stop rather than silently drain a broken stream."""

    exit_code = ExitCode.DLQ_FLOOD


class ProducerFenced(SrguardError, RuntimeError):
    """The transactional producer can go no further: fenced by a newer instance, or broken twice running."""

    exit_code = ExitCode.FENCED


class ErrorClass(StrEnum):
    """Why a record was dead-lettered: the bounded label of the DLQ header and the metrics."""

    UNDECODABLE = "undecodable"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    DTD = "dtd"
    DUIS = "duis"
    SCOPE = "scope"
    UNEXPECTED = "unexpected"


class RecordError(ValueError):
    """One record's fault: it is dead-lettered or rejected, and the stream goes on."""


class InvalidIdentifier(RecordError):
    """Not an identifier of its kind (EUI-64, MPAN, MPRN); the text says which and why."""


class OverlappingHolders(RecordError):
    """Two parties would hold one entity at the same time: the rule could not say whose it is."""


class DecodeError(RecordError):
    """Bytes that are not a valid record of the expected schema; the raw bytes stay with the caller."""

    def __init__(self, message: str, error_class: ErrorClass = ErrorClass.UNDECODABLE) -> None:
        super().__init__(message)
        self.error_class = error_class


class DuisError(DecodeError):
    """Input that is not a DUIS Request srguard can read; it goes to the DLQ with this text."""

    def __init__(self, message: str, error_class: ErrorClass = ErrorClass.DUIS) -> None:
        super().__init__(message, error_class)


class CertificateError(RecordError):
    """A certificate the rule cannot accept; ``reason`` is one of the machine-readable reject reasons."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
