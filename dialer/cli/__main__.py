"""The `dialer` command: `python -m dialer.cli ...` is the same as `dialer ...`."""

import sys

from dialer.cli import main

sys.exit(main())
