"""The entry script `corpus-search app` serves (through serve.py): Streamlit reruns it on every interaction."""

from corpus_search.app.main import run

run()
