"""The quickstart's console: stages and summary on the terminal, everything in log.txt once,
without colour codes; on an error the terminal is given back and names the log."""
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import logging, os, sys
    from detectron2.utils.logger import setup_logger
    from masktrack_d2.quickstart.console import StageConsole

    out = sys.argv[1]
    with StageConsole(os.path.join(out, "log.txt")) as console:
        with console.logging_set_up():  # as detectron2's default_setup does it
            logger = setup_logger(output=out, name="probe")
        logger.info("\\x1b[32mcoloured\\x1b[0m detail line")
        print("a print of the job")
        os.write(2, b"a C-level write to fd 2\\n")
        with console.stage("work", 3, "steps") as bar:
            for _ in range(3):
                bar.update(1)
        console.print("SUMMARY line")
        if len(sys.argv) > 2:
            raise RuntimeError("broken on purpose")
''')


def _run(tmp_path, *extra):
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=120)


def test_terminal_shows_stages_and_summary_and_the_log_keeps_the_rest(tmp_path):
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    terminal = proc.stdout + proc.stderr
    assert "[quickstart] work" in terminal and "3/3 steps" in terminal
    assert "SUMMARY line" in terminal
    for detail in ("detail line", "a print of the job", "C-level write"):
        assert detail not in terminal, detail
    log = (tmp_path / "log.txt").read_text()
    for line in ("coloured detail line", "a print of the job", "a C-level write to fd 2",
                 "SUMMARY line"):
        assert log.count(line) == 1, (line, log)
    assert "\x1b" not in log
    assert "3/3" not in log  # progress bars stay on the terminal


def test_an_error_gives_the_terminal_back_and_names_the_log(tmp_path):
    proc = _run(tmp_path, "fail")
    assert proc.returncode != 0
    log_path = os.path.join(str(tmp_path), "log.txt")
    assert "[quickstart] failed: RuntimeError: broken on purpose" in proc.stdout
    assert f"the full log: {log_path}" in proc.stdout
    assert "Traceback" in proc.stderr and "broken on purpose" in proc.stderr
