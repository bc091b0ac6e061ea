import sys

from kdns.cli import main

sys.exit(main())
