"""The generated data sets of the benchmarks: made once under output/bench/, then reused."""
import json
import os

from .env import CACHE_DIR


def synthetic_dataset(width: int, height: int, videos: int, frames: int, seed: int = 0) -> dict:
    """``generate_synthetic_ytvis``'s summary of the set of that size, generated (with
    ``seed``) under ``output/bench/synthetic_<w>x<h>_v<videos>_f<frames>/`` the first time."""
    from masktrack_d2.data.synthetic import generate_synthetic_ytvis

    root = os.path.join(CACHE_DIR, f"synthetic_{width}x{height}_v{videos}_f{frames}")
    marker = os.path.join(root, "info.json")
    if not os.path.exists(marker):
        info = generate_synthetic_ytvis(root, num_videos=videos, num_frames=frames,
                                        height=height, width=width, seed=seed)
        with open(marker, "w") as f:
            json.dump(info, f)
    with open(marker) as f:
        return json.load(f)


def register_train_split(info: dict, name: str) -> str:
    """Register the training split of a :func:`synthetic_dataset` as ``name`` (once)."""
    from detectron2.data import DatasetCatalog

    from masktrack_d2.data.datasets import register_ytvis_instances
    from masktrack_d2.data.datasets.builtin import ytvis_builtin_metadata

    if name not in DatasetCatalog.list():
        register_ytvis_instances(name, ytvis_builtin_metadata("ytvis_synthetic"),
                                 info["train_json"], info["image_root"])
    return name
