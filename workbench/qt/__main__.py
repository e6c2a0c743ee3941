"""`python -m workbench.qt` opens the main window."""

import sys

from workbench.qt.app import main

sys.exit(main())
