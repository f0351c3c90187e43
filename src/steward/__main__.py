from steward.core.cli import main

main()
