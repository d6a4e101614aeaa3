"""A run killed mid-training for the end-to-end tests: nothing gets to say how it ended."""
import json
import os
import signal
import subprocess


def train_and_kill(binary, data, out, options, epoch=2):
    """Starts `convscope train DATA --out OUT OPTIONS --json` and kills it with SIGKILL at the
    first batch of `epoch`. Returns the process id it had."""
    child = subprocess.Popen([binary, "train", data, "--out", out, *options, "--json"],
                             stdout=subprocess.PIPE, text=True)
    with child.stdout:
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "batch" and event["epoch"] == epoch:
                os.kill(child.pid, signal.SIGKILL)
                break
    child.wait()
    return child.pid
