#!/usr/bin/python3
"""Run a command with its stdout+stderr written to FILE, each line prefixed by the seconds
since the start ("[  12.345] "), so `xl -vvv create`'s log shows where the time goes
(bootloader, hotplug scripts, domain build). Runs in dom0.

usage: tslog.py FILE -- COMMAND ARGS...      exit status: the command's
"""
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    sep = args.index("--")
    path, cmd = args[0], args[sep + 1:]
    start = time.monotonic()
    with open(path, "w") as out:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in p.stdout:
            t = time.monotonic() - start
            out.write("[%8.3f] %s" % (t, line.decode("utf-8", "replace")))
            out.flush()
        return p.wait()


if __name__ == "__main__":
    sys.exit(main())
