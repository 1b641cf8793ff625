"""Whole-process measurements of a command line, the way a user meets it."""
import json
import os
import time


def run_measured(cmd, env, err_path):
    """
    Run ``cmd`` as a child process (posix_spawn, so that ``os.wait4`` reports the child's own
    resource use), stderr to ``err_path``.

    Returns:
        (wall seconds, CPU seconds (user + system), peak RSS in MiB, the last stdout line
        parsed as json).
    Raises:
        RuntimeError with the end of stderr when the command fails.
    """
    out_r, out_w = os.pipe()
    os.makedirs(os.path.dirname(os.path.abspath(err_path)), exist_ok=True)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    tic = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=[
        (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_fd, 2),
        (os.POSIX_SPAWN_CLOSE, out_r)])
    os.close(out_w)
    os.close(err_fd)
    chunks = []
    while True:
        b = os.read(out_r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(out_r)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - tic
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        with open(err_path) as f:
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{f.read()[-3000:]}")
    lines = b"".join(chunks).decode().strip().splitlines()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, json.loads(lines[-1])
