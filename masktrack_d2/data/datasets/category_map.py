"""Contiguous class labels (what the model predicts, 0..K-1) <-> a data set's category ids.

The one place that turns a model's label into the ``category_id`` written to results files
(used by the evaluator and the demo). The map is the data set's metadata
``thing_dataset_id_to_contiguous_id``; for a json without registered metadata it is the json's
``categories`` sorted by id, the order the data set loader uses.
"""
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
