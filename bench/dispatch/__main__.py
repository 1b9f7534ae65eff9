import sys

from bench.dispatch.run import main

sys.exit(main())
