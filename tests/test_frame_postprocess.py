"""frame_postprocess gives detectron2's detector_postprocess output exactly."""
import pytest
import torch

from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from masktrack_d2.modeling.postprocessing import frame_postprocess


@pytest.mark.parametrize("empty_boxes", [0, 3])
def test_same_as_detector_postprocess(empty_boxes):
    g = torch.Generator().manual_seed(empty_boxes)
    n = 12
    xy = torch.rand(n, 2, generator=g) * torch.tensor([300.0, 180.0])
    boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 80 + 1], dim=1)
    # boxes that clipping leaves empty: wholly outside the input image
    boxes[:empty_boxes] = torch.tensor([330.0, 10.0, 360.0, 40.0])
    inst = Instances((192, 320), pred_boxes=Boxes(boxes),
                     scores=torch.rand(n, generator=g), pred_classes=torch.arange(n) % 3,
                     pred_track_ids=torch.arange(n) + 5,
                     pred_masks=torch.rand(n, 1, 28, 28, generator=g))
    clone = Instances(inst.image_size, **{k: (Boxes(v.tensor.clone()) if isinstance(v, Boxes)
                                              else v.clone())
                                          for k, v in inst.get_fields().items()})
    ref = detector_postprocess(inst, 360, 600)
    got = frame_postprocess(clone, 360, 600)
    assert len(ref) == n - empty_boxes and got.image_size == ref.image_size == (360, 600)
    assert set(got.get_fields()) == set(ref.get_fields())
    for k, v in ref.get_fields().items():
        g_v = got.get(k)
        a, b = (g_v.tensor, v.tensor) if isinstance(v, Boxes) else (g_v, v)
        assert a.dtype == b.dtype and torch.equal(a, b), k
