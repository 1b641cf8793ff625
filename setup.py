from setuptools import find_packages, setup

setup(
    name="masktrack_d2",
    version="0.1.0",
    description="MaskTrack R-CNN video instance segmentation as a Detectron2 extension",
    packages=find_packages(include=["masktrack_d2", "masktrack_d2.*"]),
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
