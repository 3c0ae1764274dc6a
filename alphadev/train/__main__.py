import sys

from alphadev.train.cli import main

sys.exit(main())
