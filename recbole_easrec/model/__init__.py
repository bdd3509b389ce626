"""Models this plugin registers with RecBole (importable as ``from recbole_easrec.model import X``)."""

from recbole_easrec.model.dsl import DSL
from recbole_easrec.model.easrec import EASRec
from recbole_easrec.model.easrec_compact import EASRecCompact
from recbole_easrec.model.lin_fdsa import LinFDSA
from recbole_easrec.model.lin_sasrecf import LinSASRecF
from recbole_easrec.model.linrec import LinRec

__all__ = ["DSL", "EASRec", "EASRecCompact", "LinRec", "LinFDSA", "LinSASRecF"]
