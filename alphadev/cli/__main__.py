import sys

from alphadev.cli import main

sys.exit(main())
