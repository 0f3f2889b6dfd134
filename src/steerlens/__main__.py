"""``python -m steerlens`` (what ``torchrun ... -m steerlens capture ...`` runs): the ``steerlens`` command."""

from .cli import main

raise SystemExit(main())
