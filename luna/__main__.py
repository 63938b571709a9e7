"""`python -m luna COMMAND`: see `luna.cli`."""

from luna.cli import main

raise SystemExit(main())
