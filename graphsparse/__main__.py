import sys

from graphsparse.cli import main

sys.exit(main())
