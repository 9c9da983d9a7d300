import sys

from autodialer.cli import main

sys.exit(main())
