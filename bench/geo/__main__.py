import sys

from bench.geo.run import main

sys.exit(main())
