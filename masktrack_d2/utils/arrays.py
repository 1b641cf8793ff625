"""Array conversion shared by the result writer and the visualizer (no torch import)."""
import numpy as np


def to_numpy(x) -> np.ndarray:
    """A numpy array of ``x``: a torch tensor (on any device, detached) or anything
    ``np.asarray`` takes."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)
