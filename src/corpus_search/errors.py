"""One project exception, a few kinds; each message says what went wrong and how to fix it."""


class CorpusSearchError(Exception):
    """Base of every error corpus-search reports to a user."""

    exit_code = 1


class UsageError(CorpusSearchError):
    """A bad argument or option value."""

    exit_code = 2


class QueryError(CorpusSearchError):
    """A query that cannot be run at all (an empty one, say)."""

    exit_code = 2


class IndexMissingError(CorpusSearchError):
    """No index has been built, or the one found is stale, foreign or corrupt."""

    exit_code = 3


class IndexUntrustedError(IndexMissingError):
    """An index whose checksums were not made with this installation's key: built elsewhere, or tampered with."""


class SourceError(CorpusSearchError):
    """A source file that cannot be read: broken, encrypted, empty, too large."""

    def __init__(self, message: str, status: str = "failed"):
        super().__init__(message)
        self.status = status


class DraftError(SourceError):
    """A draft `check` cannot read (wrong type, too large, broken, not UTF-8): an input error, exit 2,
    so a script tells it from a misquotation (exit 1)."""

    exit_code = 2


class BuildLockedError(CorpusSearchError):
    """Another build holds the lock on the index folder."""

    exit_code = 4


class NotFoundError(CorpusSearchError):
    """A passage, document or entity id that does not exist."""

    exit_code = 5
