"""PPA models fitted to characterization data, standing in for synthesis during exploration.

* :mod:`~quidam.models.features`: the model inputs, documented transforms of the configuration.
* :mod:`~quidam.models.card`: the fitted models of one PE type as a JSON model card.
* :mod:`~quidam.models.fit`: model selection by k-fold cross-validation, fitting a card to a dataset.
* :mod:`~quidam.models.predict`: one configuration's figures, errors and warnings.
* :mod:`~quidam.models.report`: held-out validation, the accuracy report and its plot.
* :mod:`~quidam.models.composed`: the accelerator composed of its characterized blocks, and
  :mod:`~quidam.models.block_models`: the GLB and controller as fitted functions of their structure.
* :mod:`~quidam.models.cli`: ``quidam fit`` and ``quidam predict``.

The committed cards are ``models/cards/<pe>.json``; ``make models`` refits them.
"""

from .card import ModelCard, card_path, make_pipeline
from .features import FEATURES, feature_matrix
from .fit import fit_card, load_dataset
from .predict import Prediction, predict

__all__ = ["FEATURES", "ModelCard", "Prediction", "card_path", "feature_matrix", "fit_card", "load_dataset",
           "make_pipeline", "predict"]
