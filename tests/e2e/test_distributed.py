"""Data-parallel training on LibTorch's c10d (Gloo), end to end with the real binary:

1. `train --nproc-per-node 2 --batch 4` against one process with `--batch 8`, the same seed and
   data order: the same history and, after every step, weights within 1e-5.
2. Workers started as torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT in the
   environment, no launcher) train the same run.
3. Two hosts: network namespaces joined by a veth pair (made and removed here; root only),
   one rank in each, --master-addr the other's address: the same history as on loopback;
   then the link goes down mid-run and both ranks stop within the timeout, each naming the
   other (rank 0: rank 1 went quiet; rank 1: rank 0's rendezvous cannot be reached); and
   kill -9 of the rank on the other host makes rank 0 name it, with its process and host.
4. Ctrl-C at the launcher stops every rank at the same step (exit 130, status interrupted),
   and so does a Ctrl-C that reaches one rank only (one node of several), at random moments;
   kill -9 of one rank after its first checkpoint: the launcher names the lost rank and exits
   non-zero within the timeout; the checkpoint loads, and --resume continues with 2
   processes and with 1.
5. An unreachable master, a port in use, and ranks with different WORLD_SIZE values each give
   a clear error in bounded time.
Part 3 runs alone with --hosts (it needs root and iproute2). Exits 77, saying why, where the
build has no data-parallel training or (--hosts) namespaces cannot be made. Run with the
PyTorch environment's python: test_distributed.py CONVSCOPE_BINARY [--hosts]"""
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from pngfiles import write_png_rows  # noqa: E402

try:
    import h5py
    import numpy as np
except Exception as e:  # noqa: BLE001
    print(f"SKIP: h5py or numpy cannot be imported ({type(e).__name__}: {e})")
    sys.exit(77)

BINARY = None
SIZE = 32
COMMON = ["--size", str(SIZE), "--head", "gap", "--no-augment", "--optimizer", "sgd", "--lr",
          "0.05", "--seed", "3", "--device", "cpu", "--precision", "fp32", "--threads", "1",
          "--val-fraction", "0.25"]


def picture(rng, cls):
    rows = []
    for y in range(SIZE):
        row = bytearray()
        for x in range(SIZE):
            on = {0: x < SIZE // 2, 1: y < SIZE // 2, 2: (x + y) % 8 < 4}[cls]
            v = (200 if on else 50) + rng.randrange(-20, 21)
            row += bytes((v, 255 - v, (v * 3) % 256))
        rows.append(bytes(row))
    return rows


def make_data(root, per_class):
    rng = random.Random(5)
    for cls in range(3):
        for i in range(per_class):
            write_png_rows(os.path.join(root, f"c{cls}", f"{i}.png"), SIZE, SIZE,
                           picture(rng, cls))
    return root


def run(args, env=None, timeout=300, check=True):
    started = time.monotonic()
    done = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)
    took = time.monotonic() - started
    if check and done.returncode != 0:
        raise AssertionError(f"convscope {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done, took


def arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        for name in f.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else str(name)
            for w in f[name].attrs["weight_names"]:
                w = w.decode() if isinstance(w, bytes) else str(w)
                out[w] = np.array(f[name][w])
    return out


def largest_difference(a, b):
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def history(run_dir):
    """Each epoch's numbers but its duration."""
    with open(os.path.join(run_dir, "history.csv")) as f:
        return [[float(v) for k, v in row.items() if k != "seconds"] for row in csv.DictReader(f)]


def same_history(a, b, tolerance=1e-5):
    """Equal epochs, each number within `tolerance` (the sums run in another order)."""
    return len(a) == len(b) and all(abs(x - y) <= tolerance for ra, rb in zip(a, b)
                                    for x, y in zip(ra, rb))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(rank, world, port, address="127.0.0.1", timeout=20):
    env = dict(os.environ)
    env.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": address,
                "MASTER_PORT": str(port), "CONVSCOPE_DIST_TIMEOUT": str(timeout)})
    return env


def same_as_one_process(work, data):
    one = os.path.join(work, "one")
    two = os.path.join(work, "two")
    run(["train", data, "--out", one, "--batch", "8", "--epochs", "3", *COMMON])
    done, _ = run(["train", data, "--out", two, "--batch", "4", "--epochs", "3",
                   "--nproc-per-node", "2", *COMMON])
    assert "Global batch 8 (2 processes x 4)" in done.stdout + done.stderr, done.stdout
    assert same_history(history(one), history(two)), (history(one), history(two))
    diff = largest_difference(arrays(os.path.join(one, "weights.h5")),
                              arrays(os.path.join(two, "weights.h5")))
    print(f"2 processes x batch 4 vs 1 process x batch 8, 3 epochs (9 steps): largest weight "
          f"difference {diff:.3g}; histories equal within 1e-5")
    assert diff <= 1e-5, diff
    with open(os.path.join(two, "config.json")) as f:
        assert '"world_size": 2' in f.read()
    with open(os.path.join(two, "status.json")) as f:
        status = json.load(f)
    rates = status["ranks_images_per_second"]
    assert status["status"] == "finished" and len(rates) == 2 and min(rates) > 0, status
    runs = json.loads(run(["runs", work, "--json"])[0].stdout)
    assert any(r["name"] == "two" for r in runs), runs
    return two


def torchrun_style(work, data, reference):
    out = os.path.join(work, "env")
    port = free_port()
    procs = [subprocess.Popen([BINARY, "train", data, "--out", out, "--batch", "4", "--epochs",
                               "3", *COMMON], env=worker_env(r, 2, port),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, f"worker failed:\n{stdout}\n{stderr}"
    diff = largest_difference(arrays(os.path.join(out, "weights.h5")),
                              arrays(os.path.join(reference, "weights.h5")))
    print(f"workers started from RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT: difference {diff:.3g}")
    assert diff <= 1e-5


def start_hosts(ns_a, ns_b, data, out, port, args, timeout=20):
    """Rank 0 in namespace ns_a (10.213.7.1, the master), rank 1 in ns_b, one per "host"."""
    procs = []
    for rank, ns in ((0, ns_a), (1, ns_b)):
        env = worker_env(rank, 2, port, address="10.213.7.1", timeout=timeout)
        env["LOCAL_RANK"], env["LOCAL_WORLD_SIZE"] = "0", "1"
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, BINARY, "train", data, "--out", out, *args, *COMMON],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def wait_for_checkpoint(out, launcher=None):
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(out, "checkpoint.pt")):
        assert time.monotonic() < deadline, "no first checkpoint"
        assert launcher is None or launcher.poll() is None, "stopped before its first checkpoint"
        time.sleep(0.05)


def two_hosts(work, data, reference):
    if os.geteuid() != 0 or subprocess.run(["ip", "netns", "list"],
                                           capture_output=True).returncode != 0:
        print("SKIP: two hosts need network namespaces: root and iproute2")
        return False
    a, b = f"csa{os.getpid()}", f"csb{os.getpid()}"
    va, vb = f"cva{os.getpid() % 10000}", f"cvb{os.getpid() % 10000}"
    sh = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)  # noqa: E731
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", a)
        sh("ip", "link", "set", vb, "netns", b)
        for ns, dev, addr in ((a, va, "10.213.7.1/24"), (b, vb, "10.213.7.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        out = os.path.join(work, "hosts")
        procs = start_hosts(a, b, data, out, 29571, ["--batch", "4", "--epochs", "3"])
        for p in procs:
            stdout, stderr = p.communicate(timeout=300)
            assert p.returncode == 0, f"a host's rank failed:\n{stdout}\n{stderr}"
        assert same_history(history(out), history(reference)), (history(out), history(reference))
        print("two hosts (network namespaces, veth 10.213.7.1 <-> .2): history equals the "
              "loopback run's")

        # The link goes down mid-run: both ranks stop within the timeout, saying what broke.
        out = os.path.join(work, "cut-link")
        procs = start_hosts(a, b, data, out, 29572, ["--batch", "2", "--epochs", "200"], 5)
        wait_for_checkpoint(out)
        sh("ip", "-n", b, "link", "set", vb, "down")
        cut = time.monotonic()
        errors = [p.communicate(timeout=120)[1] for p in procs]
        took = time.monotonic() - cut
        print(f"link down: exits {[p.returncode for p in procs]} after {took:.1f} s: "
              f"{errors[0].strip().splitlines()[-1][:160]}")
        assert all(p.returncode != 0 for p in procs) and took < 30, took
        assert all("broke" in e for e in errors), errors
        # Each side names the other: rank 0 the rank that went quiet, rank 1 the master.
        assert "rank 1 (process " in errors[0] and "went quiet" in errors[0], errors[0]
        assert "rank 0's rendezvous at 10.213.7.1:29572 cannot be reached" in errors[1], errors[1]
        sh("ip", "-n", b, "link", "set", vb, "up")

        # kill -9 of the rank on the other host: rank 0, with no launcher that could see it,
        # names the lost rank, its process and host.
        out = os.path.join(work, "killed-host")
        procs = start_hosts(a, b, data, out, 29573, ["--batch", "2", "--epochs", "200"], 5)
        wait_for_checkpoint(out)
        procs[1].kill()  # `ip netns exec` runs the binary in its own process: this is rank 1
        killed = time.monotonic()
        error = procs[0].communicate(timeout=120)[1]
        procs[1].communicate(timeout=30)
        took = time.monotonic() - killed
        print(f"kill -9 of the other host's rank: rank 0 exit {procs[0].returncode} after "
              f"{took:.1f} s: {error.strip().splitlines()[-1][:200]}")
        assert procs[0].returncode != 0 and took < 30, took
        assert f"rank 1 (process {procs[1].pid} on " in error and "went quiet" in error, error
        return True
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def killed_rank(work, data):
    out = os.path.join(work, "killed")
    args = ["train", data, "--out", out, "--batch", "2", "--epochs", "40",
            "--nproc-per-node", "2", "--dist-timeout", "20", *COMMON]
    launcher = subprocess.Popen([BINARY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    wait_for_checkpoint(out, launcher)
    time.sleep(0.3)
    children = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True,
                              text=True).stdout.split()
    assert len(children) == 2, children
    victim = int(sorted(children, key=int)[1])  # started second: rank 1
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    _, stderr = launcher.communicate(timeout=120)
    took = time.monotonic() - killed_at
    print(f"kill -9 of rank 1: launcher exit {launcher.returncode} after {took:.1f} s: "
          f"{[line for line in stderr.splitlines() if 'rank 1' in line][:1]}")
    assert launcher.returncode != 0
    assert f"rank 1 (process {victim}) was killed by signal 9" in stderr, stderr
    assert took < 20 + 10, took
    for n, name in ((2, "resume2"), (1, "resume1")):
        copy = os.path.join(work, name)
        subprocess.run(["cp", "-r", out, copy], check=True)
        extra = ["--nproc-per-node", "2"] if n == 2 else []
        done, _ = run(["train", "--resume", copy, *extra])
        assert "Resuming after epoch" in done.stdout + done.stderr, done.stdout
        assert len(history(copy)) == 40, len(history(copy))
        print(f"--resume with {n} process(es) after the kill: 40 epochs finished")


def interrupted(work, data):
    """Ctrl-C at the launcher stops every rank after the same step."""
    out = os.path.join(work, "interrupted")
    launcher = subprocess.Popen([BINARY, "train", data, "--out", out, "--batch", "2", "--epochs",
                                 "400", "--nproc-per-node", "2", *COMMON],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(out, launcher)
    launcher.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = launcher.communicate(timeout=60)
    took = time.monotonic() - started
    with open(os.path.join(out, "status.json")) as f:
        status = json.load(f)
    print(f"Ctrl-C at the launcher: exit {launcher.returncode} after {took:.1f} s, status "
          f"{status['status']}")
    assert launcher.returncode == 130 and took < 20, (launcher.returncode, stderr)
    assert stderr.count("Cancelled after") == 1, stderr
    assert status["status"] == "interrupted", status


def one_rank_interrupted(work, data):
    """Ctrl-C reaching one rank only, as on one node of several, at a random moment after the
    first checkpoint: every rank stops at the same step, none waits on another."""
    rng = random.Random(11)
    for attempt in range(6):
        out = os.path.join(work, f"one-rank-{attempt}")
        port = free_port()
        procs = [subprocess.Popen([BINARY, "train", data, "--out", out, "--batch", "2", "--epochs",
                                   "400", *COMMON], env=worker_env(rank, 2, port),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for rank in (0, 1)]
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(out, "checkpoint.pt")):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))
        victim = attempt % 2
        procs[victim].send_signal(signal.SIGINT)
        started = time.monotonic()
        errors = [p.communicate(timeout=60)[1] for p in procs]
        took = time.monotonic() - started
        codes = [p.returncode for p in procs]
        assert codes == [130, 130] and took < 10, (attempt, codes, took, errors)
        assert errors[0].count("Cancelled after") == 1, errors[0]
    print(f"Ctrl-C at one rank, 6 times at random moments: every rank stopped (exit 130), "
          f"the last after {took:.1f} s")


def refusals(work, data):
    out = os.path.join(work, "refused")
    closed = free_port()
    done, took = run(["train", data, "--out", out, "--batch", "4", "--epochs", "1", *COMMON],
                     env=worker_env(1, 2, closed, timeout=4), check=False)
    print(f"unreachable master: exit {done.returncode} after {took:.1f} s: "
          f"{done.stderr.strip().splitlines()[-1]}")
    assert done.returncode != 0 and "cannot reach rank 0" in done.stderr and took < 30

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done, took = run(["train", data, "--out", out, "--batch", "4", "--epochs", "1",
                          *COMMON], env=worker_env(0, 2, port, timeout=4), check=False)
    print(f"port in use: exit {done.returncode} after {took:.1f} s: "
          f"{done.stderr.strip().splitlines()[-1]}")
    assert done.returncode != 0 and "port in use" in done.stderr and took < 30

    port = free_port()
    procs = []
    for rank, world in ((0, 2), (1, 3)):
        procs.append(subprocess.Popen(
            [BINARY, "train", data, "--out", out, "--batch", "4", "--epochs", "1", *COMMON],
            env=worker_env(rank, world, port, timeout=5), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    started = time.monotonic()
    errors = [p.communicate(timeout=60)[1] for p in procs]
    took = time.monotonic() - started
    print(f"WORLD_SIZE 2 and 3: exits {[p.returncode for p in procs]} after {took:.1f} s: "
          f"{errors[1].strip().splitlines()[-1]}")
    assert all(p.returncode != 0 for p in procs) and took < 40
    assert any("WORLD_SIZE 3" in e for e in errors), errors


def main():
    global BINARY
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--hosts"):
        print(__doc__)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    probe = subprocess.run([BINARY, "info", "--json"], capture_output=True, text=True)
    if '"data_parallel": false' in probe.stdout:
        print("SKIP: this build has no data-parallel training (built without Gloo's headers)")
        return 77
    with tempfile.TemporaryDirectory() as work:
        data = make_data(os.path.join(work, "data"), 8)  # 18 training, 6 validation images
        reference = same_as_one_process(work, data)
        if len(sys.argv) == 3:
            return 0 if two_hosts(work, data, reference) else 77
        torchrun_style(work, data, reference)
        killed_rank(work, make_data(os.path.join(work, "more"), 16))
        interrupted(work, data)
        one_rank_interrupted(work, data)
        refusals(work, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
