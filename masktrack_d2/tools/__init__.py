"""Tools built on the library, not part of it: nothing under ``masktrack_d2`` imports them.

* :mod:`.quickstart`: the main job (synthetic data, CPU training, evaluation, demo), run as
  ``python -m masktrack_d2.quickstart``;
* :mod:`.match_accuracy`, :mod:`.heldout_losses`: learning checks on held-out frame pairs
  (is the model learning?), not the benchmark's metric.
"""
