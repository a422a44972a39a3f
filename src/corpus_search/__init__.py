"""corpus-search: find what a set of sources says about a claim, and quote it exactly."""

__version__ = "0.1.0"

from corpus_search.errors import CorpusSearchError  # noqa: E402

__all__ = ["Corpus", "CorpusSearchError", "__version__"]


def __getattr__(name: str):
    # Lazy: api brings NumPy and rapidfuzz, which `import corpus_search` (the CLI's --help) never needs.
    if name == "Corpus":
        from corpus_search.api import Corpus

        return Corpus
    raise AttributeError(name)
