"""`python -m perfmodel` runs the command line."""

from perfmodel.cli import main

raise SystemExit(main())
