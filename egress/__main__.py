from egress.cli import main

main()
