"""Workers AI gateway: a pure-Python core, runtime-neutral.

Nothing in this package imports `js` or `pyodide` except `gateway.runtime`, the
adapter that owns every crossing between Python and the Workers runtime.
"""

__version__ = "0.1.0"
