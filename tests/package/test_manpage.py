"""The generated man page names every command the program dispatches, and troff reads it.

usage: test_manpage.py MANPAGE.1 APP_MAIN_CPP PROJECT_VERSION
The commands come from the dispatch table in app/main.cpp, so a command added there without a
line in `convscope --help` (and so in the page) fails here.
"""
import re
import shutil
import subprocess
import sys
import unittest

PAGE = MAIN_CPP = VERSION = None


def roff_name(name):
    return name.replace("-", "\\-")


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(PAGE, encoding="utf-8") as f:
            cls.page = f.read()
        with open(MAIN_CPP, encoding="utf-8") as f:
            cls.commands = re.findall(r'\{"([a-z][a-z-]*)", convscope::cli::', f.read())

    def test_dispatch_table_was_read(self):
        self.assertGreaterEqual(len(self.commands), 10, self.commands)

    def test_every_command_has_an_entry(self):
        for name in self.commands:
            with self.subTest(command=name):
                self.assertIn(f"\n.TP\n\\fB{roff_name(name)}\\fR", self.page)

    def test_header_carries_the_project_version(self):
        self.assertRegex(self.page, rf'\n\.TH CONVSCOPE 1 "[0-9-]+" "ConvScope {re.escape(VERSION)}"')

    def test_troff_formats_it_without_warnings(self):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff not installed")
        proc = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", PAGE],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))


if __name__ == "__main__":
    PAGE, MAIN_CPP, VERSION = sys.argv[1:4]
    unittest.main(argv=sys.argv[:1], verbosity=2)
