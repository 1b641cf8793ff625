"""Reports: markdown tables, the environment line, result files (.md/.json) and plots."""
import datetime
import json
import os
import platform
import sys
from typing import Callable, Dict, List, Sequence

from .env import ROOT, available_cores

def md_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def env_info(args) -> Dict:
    import torch

    info = {
        "date": datetime.date.today().isoformat(),
        "device": args.device,
        "cpu": cpu_name(),
        "cores": available_cores(),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "loadavg_start": list(os.getloadavg()),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def env_lines(info: Dict) -> List[str]:
    dev = info["device"] + (f" ({info['gpu']})" if "gpu" in info else "")
    info.setdefault("loadavg_end", list(os.getloadavg()))
    load = (f" Load average (1 min) of the machine: {info['loadavg_start'][0]:.1f} at the start, "
            f"{info['loadavg_end'][0]:.1f} at the end (other jobs run beside the benchmark; "
            f"{info['cores']} cores).")
    return [
        f"Measured {info['date']} with `{info['command']}`: device {dev}; CPU {info['cpu']}, "
        f"{info['cores']} cores (shared with other jobs), {info['threads']} torch threads; "
        f"torch {info['torch']}, python {info['python']}, OMP_WAIT_POLICY="
        f"{info['omp_wait_policy'] or '(unset)'}." + load,
    ]


def result_paths(args, name: str) -> Dict[str, str]:
    os.makedirs(args.out_dir, exist_ok=True)
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    base = os.path.join(args.out_dir, name + suffix)
    return {"md": base + ".md", "json": base + ".json", "png": base + ".png"}


def reload_run(args, name: str) -> Dict:
    """For ``--report-only``: the .json an earlier run wrote to ``args.out_dir``, with that
    run's settings (but ``out_dir`` and ``report_only``) and config opts put back on ``args``."""
    with open(os.path.join(args.out_dir, name + ".json")) as f:
        data = json.load(f)
    for k, v in data["args"].items():
        if k not in ("out_dir", "report_only"):
            setattr(args, k, v)
    args.opts = data["opts"]
    return data


def write_report(paths: Dict[str, str], lines: Sequence[str], data: Dict) -> None:
    with open(paths["md"], "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    with open(paths["json"], "w") as f:
        json.dump(data, f, indent=1, sort_keys=True, default=float)
        f.write("\n")
    print(f"wrote {os.path.relpath(paths['md'], ROOT)}")


def save_plot(path: str, draw: Callable, figsize=(7, 4)) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    draw(fig, ax)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {os.path.relpath(path, ROOT)}")
