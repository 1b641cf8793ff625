from setuptools import Extension, find_packages, setup

# The compiled RLE kernels (masktrack_d2/format/_rlecore.c): the RLE check that the data
# loader and the metric share, and the metric's video IoU. Optional: without a C compiler the
# same rule runs in numpy (masktrack_d2/format/rle.py) and the IoU on pycocotools, with the
# same verdicts and numbers.
RLE_CORE = Extension("masktrack_d2.format._rlecore",
                     ["masktrack_d2/format/_rlecore.c"], optional=True,
                     extra_compile_args=["-O3"])

setup(
    name="masktrack_d2",
    version="0.1.0",
    description="MaskTrack R-CNN video instance segmentation as a Detectron2 extension",
    packages=find_packages(include=["masktrack_d2", "masktrack_d2.*"]) + ["masktrack_d2.configs"],
    # The repository's configs/ ships inside the package as masktrack_d2/configs, so that an
    # installed masktrack_d2 finds them (masktrack_d2.config.get_config_file; the quickstart).
    package_dir={"masktrack_d2.configs": "configs"},
    package_data={"masktrack_d2.configs": ["*.yaml", "*/*.yaml"]},
    ext_modules=[RLE_CORE],
    python_requires=">=3.8",
    # torch, torchvision and detectron2 are installed by scripts/setup.sh (detectron2 is not
    # on the package registries as such); the rest are plain registry packages.
    install_requires=["fvcore", "pycocotools", "numpy", "opencv-python-headless", "tqdm"],
    entry_points={
        "console_scripts": [
            "masktrack-ytvis-eval=masktrack_d2.evaluation.ytvis_eval:main",
            "masktrack-synthetic=masktrack_d2.data.synthetic:main",
            "masktrack-split=masktrack_d2.data.datasets.split:main",
        ]
    },
)
