// Stand-in for detectron2/layers/csrc/vision.cpp, which the pb1-detectron2 sdist omits.
// It provides only what detectron2's environment report (collect_env_info) calls; the
// C++ ops themselves (rotated boxes, deformable conv, fast COCO eval) are absent, and
// Mask R-CNN / MaskTrack R-CNN use none of them.
#include <torch/extension.h>
#include <string>

namespace detectron2 {
std::string get_compiler_version() { return "placeholder (no C++ ops built)"; }
std::string get_cuda_version() { return "not built"; }
bool has_cuda() { return false; }
}  // namespace detectron2

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("get_compiler_version", &detectron2::get_compiler_version);
  m.def("get_cuda_version", &detectron2::get_cuda_version);
  m.def("has_cuda", &detectron2::has_cuda);
}
