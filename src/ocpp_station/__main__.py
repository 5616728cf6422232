"""``python -m ocpp_station`` is ``ocpp-station``."""

import sys

from .cli import main

sys.exit(main())
