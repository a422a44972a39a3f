"""corpus-search in the browser, from a checkout: `streamlit run app/streamlit_app.py`.

A thin entry: the app ships inside the package (corpus_search/app/), so an installed wheel runs
it too (`corpus-search app`); pages live in src/corpus_search/app/pages/.
"""

from corpus_search.app.main import run

run()
