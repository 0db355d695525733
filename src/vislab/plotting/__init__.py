"""Figures drawn with matplotlib from plain values (arrays, tensors, dicts, callables), saved as PNG files;
a run's figures also as ``Figure`` objects (``runs.*_figure``) for notebooks and the Python API.

Below ``train`` in the layers: it imports nothing of vislab but ``errors``. Its modules:

- ``canvas``: the Agg backend and :func:`~vislab.plotting.canvas.save_figure`, the one way a figure is written
  (or, inside ``captured_figures``, handed back unwritten);
- ``style``: the page style (rcParams for figures printed 3.3 or 6.9 in wide, text ≥ 8 pt, Okabe–Ito colours);
- ``runs``: learning curves, confusion matrix, per-class accuracy, ROC curves (``*_figure`` → Figure,
  ``plot_*`` → PNG);
- ``spans``: a near-flat curve's y axis at a least span, without an offset (no magnified round-off);
- ``images``: image grids and mosaics, 2-D feature scatter plots;
- ``sweeps``: bars (parameter importances), objective history, parallel coordinates;
- ``boundary``: the decision boundary of a classifier on 2-D features;
- ``vit``: a ViT's positional-embedding table and attention-rollout maps;
- ``lr_find``: the LR range test's loss against the learning rate;
- ``explain``: explanation maps (attention heads, rollout, Grad-CAM, saliency) over their image.
- ``mistake_picks`` (no matplotlib): which wrong predictions to show, ``mistakes`` draws them;
- ``files``: figure file names that carry the options telling figures apart, and no silent
  replacement of an earlier file (``--force``).
"""
