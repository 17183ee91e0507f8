"""socstack: a science operations center in containers.

The package is one distribution with one import root; each service (`socstack serve api`,
`socstack worker`, ...) is a process started from it. Importing ``socstack`` has no side
effects: settings, engines and folders are made only when a command asks for them.
"""

__version__ = "0.1.0"

from socstack._exceptions import SocError

__all__ = ["SocError", "__version__"]
