"""``python -m ivs_replication_cli``: the same as the ``ivs-replication`` command."""

from __future__ import annotations

import sys

from ivs_replication_cli.main import main

sys.exit(main())
