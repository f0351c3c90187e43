"""`python bench/generate.py --schools N --seed S --out DIR`: write a synthetic local authority.

The generator lives in `steward.demo.synthetic` so that `steward demo` can use it too.
"""

import sys

from steward.demo.synthetic import main

if __name__ == "__main__":
    sys.exit(main())
