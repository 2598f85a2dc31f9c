"""One error base for the project, with specific subclasses."""

from __future__ import annotations


class AbuseDetectorError(Exception):
    """Base class of every error the project raises on purpose."""


class SettingsError(AbuseDetectorError):
    """Settings are missing or invalid; the message is one readable line."""


class EventError(AbuseDetectorError):
    """An input event breaks the event contract.

    ``reason`` is a short stable code (for metrics labels and DLQ headers);
    ``detail`` is a readable sentence for the person looking at the DLQ.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BrokerError(AbuseDetectorError):
    """The broker could not be started, reached or stopped."""


class ScenarioError(AbuseDetectorError):
    """A simulator scenario file is invalid."""


class InputFileError(AbuseDetectorError):
    """A file given on the command line cannot be read or is malformed."""
