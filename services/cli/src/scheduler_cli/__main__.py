"""`python -m scheduler_cli` is the `jobscheduler` command."""

from scheduler_cli.main import main

main()
