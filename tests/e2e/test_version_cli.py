"""The version in project(VERSION) reaches `convscope --version`, `info` and `info --json`.

usage: test_version_cli.py CONVSCOPE_BINARY PROJECT_VERSION
"""
import json
import subprocess
import sys
import unittest

BINARY = None
VERSION = None


def run(*args):
    proc = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


class VersionTest(unittest.TestCase):
    def test_version_option_prints_the_project_version(self):
        self.assertEqual(run("--version"), f"convscope {VERSION}\n")

    def test_info_starts_with_the_project_version(self):
        self.assertEqual(run("info").splitlines()[0], f"ConvScope {VERSION}")

    def test_info_json_carries_the_project_version(self):
        self.assertEqual(json.loads(run("info", "--json"))["version"], VERSION)


if __name__ == "__main__":
    BINARY, VERSION = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
