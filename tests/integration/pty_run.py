#!/usr/bin/python3
"""pty_run.py - runs a command on a pseudo-terminal, as an operator's
terminal would (stdout and stderr both on it), and looks at the bytes it
wrote (used by test_progress.sh).

  run OUT [--interrupt-on TEXT] -- CMD...
      Runs CMD with stdin, stdout and stderr on a new pty; writes every
      byte read from the pty to OUT; with --interrupt-on, sends SIGINT to
      CMD once TEXT has appeared in its output.  Prints CMD's exit status
      (128+N for signal N) and exits 0.  Gives up (kills CMD) after 300 s.
  render OUT
      Prints the lines a terminal would show for OUT, one per line, each
      with "|" at both ends; the line the cursor is left on comes last
      (empty if nothing is on it).  Handles what the tools write: text,
      \\r, \\n and ESC [ K (erase to end of line).
  count OUT TEXT
      Prints how many times TEXT was drawn (occurrences in the raw bytes).
"""
import os
import select
import signal
import sys
import time


def run(out, interrupt_on, cmd):
    # The parent keeps the slave open too, so that what the child wrote
    # just before it died is still read (with the slave gone, a read of
    # the master may fail with EIO before the last bytes come through).
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            # Not the terminal's session leader: its death would hang
            # the terminal up and drop unread output.
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    data = b""
    sent = False
    status = None
    deadline = time.monotonic() + 300
    while True:
        if status is None:
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid == pid:
                status = st
        if status is None and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        # Once the child is gone, read what is left and stop.
        r, _, _ = select.select([master], [], [],
                                0.2 if status is not None else 0.1)
        if not r:
            if status is not None:
                break
            continue
        chunk = os.read(master, 65536)
        data += chunk
        if interrupt_on and not sent and interrupt_on.encode() in data:
            os.kill(pid, signal.SIGINT)
            sent = True
    os.close(master)
    os.close(slave)
    with open(out, "wb") as f:
        f.write(data)
    if os.WIFSIGNALED(status):
        print(128 + os.WTERMSIG(status))
    else:
        print(os.WEXITSTATUS(status))


def render(path):
    with open(path, "rb") as f:
        data = f.read()
    # A pty turns \n into \r\n: \r then \n is a plain newline here.
    data = data.replace(b"\r\n", b"\n")
    lines, cur, col, i = [], [], 0, 0
    while i < len(data):
        c = data[i:i + 1]
        if data.startswith(b"\x1b[K", i):
            del cur[col:]
            i += 3
            continue
        if c == b"\n":
            lines.append(b"".join(cur))
            cur, col = [], 0
        elif c == b"\r":
            col = 0
        else:
            if col < len(cur):
                cur[col] = c
            else:
                cur.append(c)
            col += 1
        i += 1
    lines.append(b"".join(cur))
    for line in lines:
        print("|%s|" % line.decode("utf-8", "replace"))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "render":
        render(sys.argv[2])
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "count":
        with open(sys.argv[2], "rb") as f:
            print(f.read().count(sys.argv[3].encode()))
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        out, rest, interrupt_on = sys.argv[2], sys.argv[3:], None
        if rest[0] == "--interrupt-on":
            interrupt_on, rest = rest[1], rest[2:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        run(out, interrupt_on, rest)
        return 0
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
