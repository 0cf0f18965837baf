import sys
from pathlib import Path

# `support` holds test helpers shared by the unit and end-to-end suites.
sys.path.insert(0, str(Path(__file__).resolve().parent))
