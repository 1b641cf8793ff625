"""Built-in YouTube-VIS 2019 / 2021, OVIS and synthetic data sets.

They are registered on import under the root ``$DETECTRON2_DATASETS`` (default
``./datasets``); see ``datasets/README.md`` for the expected directory tree. Registration
reads nothing from disk, so it works on machines without the data.
"""
import os

from .ytvis import register_ytvis_instances

__all__ = [
    "YTVIS_2019_CATEGORIES",
    "YTVIS_2021_CATEGORIES",
    "OVIS_CATEGORIES",
    "SYNTHETIC_CATEGORIES",
    "SYNTHETIC_HARD_CATEGORIES",
    "ytvis_builtin_metadata",
    "register_all_ytvis",
]

# (id, name) as in the official jsons; the ids are NOT alphabetical ranks for 2019.
YTVIS_2019_CATEGORIES = list(
    enumerate(
        [
            "person", "giant_panda", "lizard", "parrot", "skateboard", "sedan", "ape",
            "dog", "snake", "monkey", "hand", "rabbit", "duck", "cat", "cow", "fish",
            "train", "horse", "turtle", "bear", "motorbike", "giraffe", "leopard", "fox",
            "deer", "owl", "surfboard", "airplane", "truck", "zebra", "tiger", "elephant",
            "snowboard", "boat", "shark", "mouse", "frog", "eagle", "earless_seal",
            "tennis_racket",
        ],
        start=1,
    )
)

# 2021 revised the set (eagle+owl -> bird, ape -> monkey, no hand, sedan -> car, new
# flying_disc / squirrel / whale) and renumbered it alphabetically.
YTVIS_2021_CATEGORIES = list(
    enumerate(
        [
            "airplane", "bear", "bird", "boat", "car", "cat", "cow", "deer", "dog", "duck",
            "earless_seal", "elephant", "fish", "flying_disc", "fox", "frog", "giant_panda",
            "giraffe", "horse", "leopard", "lizard", "monkey", "motorbike", "mouse",
            "parrot", "person", "rabbit", "shark", "skateboard", "snake", "snowboard",
            "squirrel", "surfboard", "tennis_racket", "tiger", "train", "truck", "turtle",
            "whale", "zebra",
        ],
        start=1,
    )
)

OVIS_CATEGORIES = list(
    enumerate(
        [
            "Person", "Bird", "Cat", "Dog", "Horse", "Sheep", "Cow", "Elephant", "Bear",
            "Zebra", "Giraffe", "Poultry", "Giant_panda", "Lizard", "Parrot", "Monkey",
            "Rabbit", "Tiger", "Fish", "Turtle", "Bicycle", "Motorcycle", "Airplane",
            "Boat", "Vehicle",
        ],
        start=1,
    )
)


# The generator's categories (masktrack_d2.data.synthetic): category = shape.
SYNTHETIC_CATEGORIES = [
    {"id": 1, "name": "circle", "supercategory": "shape"},
    {"id": 2, "name": "square", "supercategory": "shape"},
    {"id": 3, "name": "triangle", "supercategory": "shape"},
]

# The hard mode's categories (--mode hard): six shapes under non-contiguous ids, as in
# real data sets whose json skips ids, so that every id map is exercised.
SYNTHETIC_HARD_CATEGORIES = [
    {"id": 1, "name": "circle", "supercategory": "shape"},
    {"id": 2, "name": "square", "supercategory": "shape"},
    {"id": 4, "name": "triangle", "supercategory": "shape"},
    {"id": 7, "name": "star", "supercategory": "shape"},
    {"id": 9, "name": "cross", "supercategory": "shape"},
    {"id": 12, "name": "ring", "supercategory": "shape"},
]


# name -> (image_root, json_file), relative to the data set root.
_SPLITS_YTVIS_2019 = {
    "ytvis_2019_train": ("ytvis_2019/train/JPEGImages", "ytvis_2019/train.json"),
    "ytvis_2019_val": ("ytvis_2019/valid/JPEGImages", "ytvis_2019/valid.json"),
    "ytvis_2019_test": ("ytvis_2019/test/JPEGImages", "ytvis_2019/test.json"),
    "ytvis_2019_train_sub": ("ytvis_2019/train/JPEGImages", "ytvis_2019/train_sub.json"),
    "ytvis_2019_val_sub": ("ytvis_2019/train/JPEGImages", "ytvis_2019/val_sub.json"),
}
_SPLITS_YTVIS_2021 = {
    "ytvis_2021_train": ("ytvis_2021/train/JPEGImages", "ytvis_2021/train/instances.json"),
    "ytvis_2021_val": ("ytvis_2021/valid/JPEGImages", "ytvis_2021/valid/instances.json"),
    "ytvis_2021_test": ("ytvis_2021/test/JPEGImages", "ytvis_2021/test/instances.json"),
    "ytvis_2021_train_sub": ("ytvis_2021/train/JPEGImages", "ytvis_2021/train_sub.json"),
    "ytvis_2021_val_sub": ("ytvis_2021/train/JPEGImages", "ytvis_2021/val_sub.json"),
}
_SPLITS_OVIS = {
    "ovis_train": ("ovis/train", "ovis/annotations_train.json"),
    "ovis_val": ("ovis/valid", "ovis/annotations_valid.json"),
    "ovis_test": ("ovis/test", "ovis/annotations_test.json"),
    "ovis_train_sub": ("ovis/train", "ovis/train_sub.json"),
    "ovis_val_sub": ("ovis/train", "ovis/val_sub.json"),
}
_SPLITS_SYNTHETIC = {
    "ytvis_synthetic_train": ("synthetic/JPEGImages", "synthetic/train.json"),
    "ytvis_synthetic_val": ("synthetic/JPEGImages", "synthetic/val.json"),
}
_SPLITS_SYNTHETIC_HARD = {
    "ytvis_synthetic_hard_train": ("synthetic_hard/JPEGImages", "synthetic_hard/train.json"),
    "ytvis_synthetic_hard_val": ("synthetic_hard/JPEGImages", "synthetic_hard/val.json"),
    # the generator's second hard family (mode "hard_b"), for checking recipes untuned on it
    "ytvis_synthetic_hard_b_train": ("synthetic_hard_b/JPEGImages", "synthetic_hard_b/train.json"),
    "ytvis_synthetic_hard_b_val": ("synthetic_hard_b/JPEGImages", "synthetic_hard_b/val.json"),
}


def _metadata(categories):
    return {
        "thing_classes": [name for _, name in categories],
        "thing_dataset_id_to_contiguous_id": {cid: i for i, (cid, _) in enumerate(categories)},
    }


def ytvis_builtin_metadata(key):
    """Metadata (thing_classes, id map) of ``"ytvis_2019"``, ``"ytvis_2021"``, ``"ovis"``
    ``"ytvis_synthetic"`` or ``"ytvis_synthetic_hard"``."""
    if key == "ytvis_2019":
        return _metadata(YTVIS_2019_CATEGORIES)
    if key == "ytvis_2021":
        return _metadata(YTVIS_2021_CATEGORIES)
    if key == "ovis":
        return _metadata(OVIS_CATEGORIES)
    if key == "ytvis_synthetic":
        return _metadata([(c["id"], c["name"]) for c in SYNTHETIC_CATEGORIES])
    if key == "ytvis_synthetic_hard":
        return _metadata([(c["id"], c["name"]) for c in SYNTHETIC_HARD_CATEGORIES])
    raise KeyError("No built-in metadata for '{}'".format(key))


def register_all_ytvis(root):
    """Register every built-in split with its files under ``root``."""
    for key, splits in [
        ("ytvis_2019", _SPLITS_YTVIS_2019),
        ("ytvis_2021", _SPLITS_YTVIS_2021),
        ("ovis", _SPLITS_OVIS),
        ("ytvis_synthetic", _SPLITS_SYNTHETIC),
        ("ytvis_synthetic_hard", _SPLITS_SYNTHETIC_HARD),
    ]:
        for name, (image_root, json_file) in splits.items():
            register_ytvis_instances(
                name,
                ytvis_builtin_metadata(key),
                os.path.join(root, json_file),
                os.path.join(root, image_root),
            )


# Same guard as detectron2's builtin.py: run only when imported as part of the package.
if __name__.endswith(".builtin"):
    _root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
    register_all_ytvis(_root)
