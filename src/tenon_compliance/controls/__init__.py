"""Controls, one module per kind of evidence.

Importing this package registers every control. A new control goes into the
module of the evidence it reads; a new kind of evidence gets a new module,
listed here.
"""

import importlib

_MODULES = (
    "terraform",
    "kubernetes",
    "dockerfile",
    "pipeline",
    "cross_environment",
    "image",
    "signature",
    "probes",
    "governance",
)

for _name in _MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as error:  # a module not written yet
        if error.name != f"{__name__}.{_name}":
            raise
