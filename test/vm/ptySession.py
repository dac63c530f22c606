"""Runs a command on a pseudo-terminal of its own and plays a session on it.

Usage: python3 ptySession.py SESSION_JSON. The session is
{"command": [...], "cwd": ..., "env": {...}, "size": [rows, columns],
"steps": [...], "timeout": seconds}, each step one of
{"expect": REGEX} (wait until the output after the last match matches),
{"send": TEXT}, {"resize": [rows, columns]} (the kernel signals SIGWINCH),
{"waitFile": PATH} (wait until a file exists), {"touch": PATH} (make an
empty file), {"signal": NAME} (to the command). Prints one JSON object: the exit code (or the signal), the whole
output, the step that failed, and `stty -g` of the terminal before the
command started and after it ended.
"""

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

session = json.loads(sys.argv[1])
deadline = time.time() + session.get("timeout", 240)


def set_size(fd, rows, columns):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def stty(fd):
    return subprocess.run(["stty", "-g"], stdin=fd, capture_output=True, text=True).stdout.strip()


master, slave = os.openpty()
set_size(slave, *session["size"])
before = stty(slave)

pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(master)
    os.chdir(session["cwd"])
    os.execvpe(session["command"][0], session["command"], {**os.environ, **session.get("env", {})})

output = b""
searched = 0
exit_status = None


def pump(wait):
    """Reads what the command wrote within `wait` seconds; notes its exit."""
    global output, exit_status
    ready, _, _ = select.select([master], [], [], wait)
    if ready:
        try:
            output += os.read(master, 65536)
        except OSError:
            pass
    if exit_status is None:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done != 0:
            exit_status = status


def wait_until(check):
    while time.time() < deadline:
        if check():
            return True
        if exit_status is not None:
            pump(0)
            return check()
        pump(0.2)
    return False


def expect(pattern):
    global searched
    compiled = re.compile(pattern.encode(), re.S)

    def found():
        global searched
        match = compiled.search(output, searched)
        if match is None:
            return False
        searched = match.end()
        return True

    return wait_until(found)


failed = None
for index, step in enumerate(session["steps"]):
    if "expect" in step:
        ok = expect(step["expect"])
    elif "send" in step:
        os.write(master, step["send"].encode())
        ok = True
    elif "resize" in step:
        set_size(master, *step["resize"])
        ok = True
    elif "waitFile" in step:
        ok = wait_until(lambda: os.path.exists(step["waitFile"]))
    elif "touch" in step:
        open(step["touch"], "a").close()
        ok = True
    elif "signal" in step:
        os.kill(pid, getattr(signal, step["signal"]))
        ok = True
    else:
        raise ValueError(f"unknown step {step}")
    if not ok:
        failed = index
        break

if failed is not None and exit_status is None:
    os.kill(pid, signal.SIGKILL)
wait_until(lambda: exit_status is not None)
if exit_status is None:
    os.kill(pid, signal.SIGKILL)
    _, exit_status = os.waitpid(pid, 0)
# What the command wrote last.
while True:
    ready, _, _ = select.select([master], [], [], 0.2)
    if not ready:
        break
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    output += chunk

after = stty(slave)
print(json.dumps({
    "exitCode": os.WEXITSTATUS(exit_status) if os.WIFEXITED(exit_status) else None,
    "signal": os.WTERMSIG(exit_status) if os.WIFSIGNALED(exit_status) else None,
    "output": output.decode("utf-8", "replace"),
    "failedStep": failed,
    "sttyBefore": before,
    "sttyAfter": after,
}))
