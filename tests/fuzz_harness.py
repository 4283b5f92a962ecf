"""A crash-safe harness for fuzzing fastem: examples run in a worker process.

The test process generates examples (with hypothesis) and sends each to a worker
interpreter over a pipe; the worker runs it and answers with its outcome. A worker that
dies (a segfault, an abort from the allocator) or stops answering (a hang) is recorded
as such, for that example, and replaced. An outcome is "ok", or the name of the
exception that the example raised, with its message.
"""

from __future__ import annotations

import concurrent.futures
import os
import pickle
import struct
import subprocess
import sys
import traceback

# Exceptions that count as a clean refusal of bad input.
CLEAN = ("ValueError", "TypeError", "NotFittedError", "ModelFileError")


def _send(stream, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(size))


def serve():
    """The worker's loop: run (function name, arguments) requests from stdin."""
    import warnings

    import fuzz_cases

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr            # prints from the library must not break the pipe
    warnings.simplefilter("ignore")
    while True:
        try:
            name, args = _receive(stdin)
        except EOFError:
            return
        try:
            problems = getattr(fuzz_cases, name)(*args)
            result = ("ok", "; ".join(problems))
        except Exception as exc:  # noqa: BLE001 - the outcome is the exception's type
            result = (type(exc).__name__, f"{exc}\n{traceback.format_exc(limit=6)}")
        _send(stdout, result)


class Worker:
    """A worker interpreter; run() returns (outcome, detail) for one example."""

    def __init__(self, timeout=60.0):
        self.timeout = timeout
        self.process = None
        # answers are read on a thread, so that a hang is a timeout on any platform
        self.reader = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def _start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import fuzz_harness; fuzz_harness.serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env)

    def run(self, name, *args):
        if self.process is None or self.process.poll() is not None:
            self._start()
        process = self.process
        answer = self.reader.submit(_receive, process.stdout)
        try:
            _send(process.stdin, (name, args))
            return answer.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            self.close()
            return "hang", f"no answer within {self.timeout:g} s"
        except (EOFError, BrokenPipeError, OSError):
            code = process.wait()
            self.process = None
            return "crash", f"worker died with exit code {code}"

    def close(self):
        if self.process is not None:
            self.process.kill()       # the reader thread then sees the pipe's end
            self.process.wait()
            self.process = None
