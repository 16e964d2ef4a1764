from dnabert2.cli import main

main()
