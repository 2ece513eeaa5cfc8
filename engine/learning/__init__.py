"""Learning (pure): the dataset and labels, purged walk-forward validation, calibration and the
promotion gate of the signal model. MLflow is reached only through `engine.learning.registry`."""
