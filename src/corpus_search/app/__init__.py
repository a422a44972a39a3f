"""corpus-search in the browser: a Streamlit app that ships inside the package.

main.run() builds the navigation over pages/; streamlit_app.py is the entry script
`corpus-search app` serves through serve.py; the checkout's app/streamlit_app.py is a thin
entry over the same run(). Nothing here reaches outside the installed package.
"""
