"""The NumPy query encoder gives the same vectors as sentence-transformers itself."""

from __future__ import annotations

import numpy as np
import pytest

from corpus_search.query_encoder import QueryEncoder
from corpus_search.vector_index import Encoder, model_path

QUERIES = [
    "Why would Beijing refuse a gas route that also serves Europe?",
    "Altai pipeline",
    "Sino\u2011Russian rapprochement and the ﬁnal word of Frédéric",
    "word " * 400,  # longer than the model's 256 tokens: both truncate
    "",
]


@pytest.fixture(scope="module")
def encoders():
    return QueryEncoder(model_path()), Encoder()


@pytest.mark.parametrize("text", QUERIES)
def test_same_vector_as_sentence_transformers(encoders, text):
    fast, reference = encoders
    a = fast.encode(text)
    b = reference.encode([text])[0]
    assert a.shape == b.shape == (384,)
    assert float(a @ b) > 0.9999
    assert np.abs(a - b).max() < 1e-4
