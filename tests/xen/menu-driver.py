#!/usr/bin/python3
"""Drive `xl create -c` like a person at the console (runs in dom0, python3-minimal).

usage: menu-driver.py --log FILE --keys down,down,enter [--timeout S] -- xl create -c CFG

Runs the command on a pty (80x24, TERM=vt100), waits until the bootloader's menu is on the
screen (GRUB's "Use the ^ and v keys" help line), types the keys one by one, then relays
the guest console until the guest's token line appears and the command exits (the guest
powers off, xl console ends). Everything read is appended to FILE. Exit status: the
command's, or 124 on timeout, or 3 if the menu never showed.
"""
import os
import pty
import select
import signal
import struct
import sys
import time

KEYS = {"down": b"\x1b[B", "up": b"\x1b[A", "enter": b"\r", "esc": b"\x1b"}
MENU_MARK = b"keys to select which entry is highlighted"


def main():
    args = sys.argv[1:]
    sep = args.index("--")
    opts, cmd = args[:sep], args[sep + 1:]
    log_path, keys, timeout = None, [], 240.0
    i = 0
    while i < len(opts):
        if opts[i] == "--log":
            log_path = opts[i + 1]
        elif opts[i] == "--keys":
            keys = [KEYS[k] for k in opts[i + 1].split(",") if k]
        elif opts[i] == "--timeout":
            timeout = float(opts[i + 1])
        i += 2
    log = open(log_path, "ab") if log_path else None
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "vt100"
        os.execvp(cmd[0], cmd)
    try:
        import fcntl
        import termios
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    except OSError:
        pass
    start = time.monotonic()
    seen = b""
    typed = False
    token_seen = False
    status = None
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            os.kill(pid, signal.SIGTERM)
            sys.stderr.write("menu-driver: timeout\n")
            status = 124
            break
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            if log:
                log.write(data)
                log.flush()
            seen = (seen + data)[-8192:]
            if not typed and MENU_MARK in seen:
                t = time.monotonic() - start
                sys.stderr.write("menu-driver: menu on screen after %.1fs, typing\n" % t)
                time.sleep(0.3)
                for k in keys:
                    os.write(fd, k)
                    time.sleep(0.3)
                typed = True
            if not token_seen and b"RSGRUB-GUEST-TOKEN" in seen:
                token_seen = True
                t = time.monotonic() - start
                sys.stderr.write("menu-driver: token line after %.1fs\n" % t)
    _, st = os.waitpid(pid, 0)
    if status is None:
        status = os.waitstatus_to_exitcode(st)
        if not typed:
            sys.stderr.write("menu-driver: the menu never showed\n")
            status = status or 3
    return status


if __name__ == "__main__":
    sys.exit(main())
