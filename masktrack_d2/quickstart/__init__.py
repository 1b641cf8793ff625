"""The quickstart: the project's main job on a fresh machine, without any download.

    python -m masktrack_d2.quickstart [--output-dir output/quickstart] [KEY VALUE ...]

* :mod:`.run`: the steps (synthetic data, CPU training, evaluation, tracker ablation, demo);
* :mod:`.demo_frame`: the demo video of a held-out clip and what its saved frame shows;
* :mod:`.match_accuracy`, :mod:`.heldout_losses`: learning checks on held-out frame pairs (is
  the model learning?), not the benchmark's metric.

Nothing else in ``masktrack_d2`` imports this package. Importing it loads nothing heavy, so
that ``__main__`` can set the OpenMP policy before torch starts.
"""
