"""``python -m demo [--phones N] [--batch M] [--plugin-only] [--log FILE]``."""

import sys

from demo import runner

if __name__ == '__main__':
    sys.exit(runner.main(sys.argv[1:]))
