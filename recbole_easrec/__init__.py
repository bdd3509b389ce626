"""recbole-easrec: efficient attention-based sequential recommenders as a RecBole plugin.

Importing the package applies the compatibility fixes of :mod:`recbole_easrec.compat`.
"""

from recbole_easrec import compat

compat.apply()

from recbole_easrec.saving import load_model  # noqa: E402  (after the fixes are applied)

__version__ = "0.1.0"

__all__ = ["__version__", "compat", "load_model"]
