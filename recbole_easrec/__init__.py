"""recbole-easrec: efficient attention-based sequential recommenders as a RecBole plugin.

Importing the package applies the compatibility fixes of :mod:`recbole_easrec.compat`.
"""

from recbole_easrec import compat

compat.apply()

# after the fixes are applied; ``recommend`` (the function) shadows its module's name here
from recbole_easrec.recommend import load_data_and_model, recommend  # noqa: E402
from recbole_easrec.saving import load_model  # noqa: E402

__version__ = "0.1.0"

__all__ = ["__version__", "compat", "load_data_and_model", "load_model", "recommend"]
