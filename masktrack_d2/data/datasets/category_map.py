"""Contiguous class labels (what the model predicts, 0..K-1) <-> a data set's category ids.

The one place that turns a model's label into the ``category_id`` written to results files
(used by the evaluator and the demo). The map is the data set's metadata
``thing_dataset_id_to_contiguous_id``; for a json without registered metadata it is the json's
``categories`` sorted by id, the order the data set loader uses.
"""
import logging
from typing import Any, Dict, Iterable, Mapping, Optional


class CategoryIdMap:
    """Maps a contiguous label to its data set category id (and back).

    Example::

        id_map = CategoryIdMap.from_metadata(MetadataCatalog.get("ytvis_2019_val"))
        id_map(3)                    # the category id of label 3
    """

    def __init__(self, dataset_id_to_contiguous_id: Mapping[Any, Any]):
        self.to_contiguous: Dict[int, int] = {
            int(k): int(v) for k, v in dataset_id_to_contiguous_id.items()}
        self.to_dataset: Dict[int, int] = {v: k for k, v in self.to_contiguous.items()}
        if len(self.to_dataset) != len(self.to_contiguous):
            raise ValueError("thing_dataset_id_to_contiguous_id maps two category ids to one "
                             "label")

    @classmethod
    def from_metadata(cls, metadata) -> Optional["CategoryIdMap"]:
        """From detectron2 metadata; None if it has no ``thing_dataset_id_to_contiguous_id``."""
        id_map = metadata.get("thing_dataset_id_to_contiguous_id") if metadata is not None else None
        return cls(id_map) if id_map else None

    @classmethod
    def from_categories(cls, categories: Iterable[Mapping[str, Any]]) -> "CategoryIdMap":
        """From a YouTube-VIS json's ``categories``: ids sorted ascending get labels 0..K-1."""
        ids = sorted(int(c["id"]) for c in categories)
        return cls({cid: i for i, cid in enumerate(ids)})

    def __call__(self, label) -> int:
        """The category id of a contiguous label (KeyError for a label outside the map)."""
        return self.to_dataset[int(label)]

    def __len__(self) -> int:
        return len(self.to_dataset)


def dataset_num_classes(dataset_name: str) -> Optional[int]:
    """The number of categories of a registered data set: its metadata's ``thing_classes``, or
    the ``categories`` of its YouTube-VIS json where the metadata has none yet; None if
    neither is known (e.g. a data set registered by other code)."""
    from detectron2.data import MetadataCatalog

    meta = MetadataCatalog.get(dataset_name)
    classes = meta.get("thing_classes")
    if classes is not None:
        return len(classes)
    json_file = meta.get("json_file")
    if json_file is None:
        return None
    from .ytvis import ytvis_metadata_from_json

    return len(ytvis_metadata_from_json(json_file)["thing_classes"])


def check_num_classes(num_classes: int, dataset_name: str, training: bool = False) -> None:
    """Raise ValueError, before any work, if a model of ``num_classes`` classes does not fit
    ``dataset_name``'s categories.

    Scored against a data set (``training=False``), the counts must be equal: every label the
    model predicts becomes one of its category ids. Trained on one (``training=True``), every
    category needs a class, so the data set may not have more; one with fewer (a 40-class
    table config smoke-tested on a 3-category set) trains, with a warning, since the classes
    past its categories see no positive example."""
    found = dataset_num_classes(dataset_name)
    if found is None or found == num_classes:
        return
    if found > num_classes or not training:
        raise ValueError(
            f"data set '{dataset_name}' has {found} categories but the model predicts "
            f"{num_classes} classes: set MODEL.ROI_HEADS.NUM_CLASSES {found} (or use a data set "
            "with that many categories)")
    logging.getLogger(__name__).warning(
        "data set '%s' has %d categories but the model predicts %d classes: classes %d-%d see "
        "no positive example, and scoring this model on a data set of %d categories will be "
        "refused (MODEL.ROI_HEADS.NUM_CLASSES %d fits it)", dataset_name, found, num_classes,
        found, num_classes - 1, found, found)
