from corpus_search.cli import main

main()
