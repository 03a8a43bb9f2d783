#!/usr/bin/env python3
"""proxy.py: the bench's loopback TCP proxy (scripts/bench).

Delays every chunk by rtt/2 in each direction without serialising
throughput (a chunk is delivered at its arrival time plus the delay, in
order), and counts per connection the round trips (a client send that
follows server data since the previous client send; the first client send
counts) and the IMAP commands the client sent (lines at a command start that
look like `tag SP command`; literal bytes are skipped, so DONE and SASL
lines are not commands). Runs an asyncio loop in a thread of the caller:

    p = Proxy("127.0.0.1", 11143, rtt_ms=50); p.start(); port = p.port
    ... run the client against port ...
    p.wait_idle(); totals = p.take()   # and zeroes the counters
    p.stop()
"""

import asyncio
import re
import threading
import time

COMMAND_START = re.compile(rb"[^\s(){%*\"\\\]+]+ [A-Za-z]")
LITERAL_END = re.compile(rb"~?\{(\d+)[+-]?\}\r?\n\Z")


class CommandCounter:
    """Counts commands in the client's byte stream, literal-aware."""

    def __init__(self):
        self.commands = 0
        self.buf = bytearray()
        self.skip = 0
        self.at_start = True

    def feed(self, data):
        pos, end = 0, len(data)
        while pos < end:
            if self.skip:
                n = min(self.skip, end - pos)
                self.skip -= n
                pos += n
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                self.buf += data[pos:]
                if len(self.buf) > 1 << 20:  # a runaway line: keep its ends
                    del self.buf[4096:-64]
                return
            self.buf += data[pos:nl + 1]
            pos = nl + 1
            self.line(bytes(self.buf))
            self.buf.clear()

    def line(self, line):
        if self.at_start and COMMAND_START.match(line):
            self.commands += 1
        m = LITERAL_END.search(line)
        if m:
            self.skip = int(m.group(1))
            self.at_start = False
        else:
            self.at_start = True


class Proxy:
    def __init__(self, host, port, rtt_ms=0.0, listen_host="127.0.0.1"):
        self.target = (host, port)
        self.delay = rtt_ms / 2000.0
        self.listen_host = listen_host
        self.port = None
        self.lock = threading.Lock()
        self.active = 0
        self.zero()
        self.loop = None
        self.thread = None
        self.server = None

    def zero(self):
        self.totals = {"connections": 0, "round_trips": 0, "commands": 0,
                       "bytes_up": 0, "bytes_down": 0}

    # --- the thread's side ------------------------------------------------

    def start(self):
        ready = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(
                self.handle, self.listen_host, 0))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    def stop(self):
        if self.loop:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def wait_idle(self, timeout=10.0):
        """Waits until every proxied connection has closed."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if self.active == 0:
                    return True
            time.sleep(0.01)
        return False

    def take(self):
        with self.lock:
            t = dict(self.totals)
            self.zero()
        return t

    # --- the loop's side --------------------------------------------------

    async def handle(self, creader, cwriter):
        with self.lock:
            self.active += 1
            self.totals["connections"] += 1
        state = {"server_spoke": True, "first": True}
        counter = CommandCounter()
        try:
            sreader, swriter = await asyncio.open_connection(*self.target)
        except OSError:
            cwriter.close()
            with self.lock:
                self.active -= 1
            return

        def on_client(data):
            with self.lock:
                if state["server_spoke"] or state["first"]:
                    self.totals["round_trips"] += 1
                state["server_spoke"] = False
                state["first"] = False
                before = counter.commands
                counter.feed(data)
                self.totals["commands"] += counter.commands - before
                self.totals["bytes_up"] += len(data)

        def on_server(data):
            with self.lock:
                state["server_spoke"] = True
                self.totals["bytes_down"] += len(data)

        try:
            await asyncio.gather(self.pump(creader, swriter, on_client),
                                 self.pump(sreader, cwriter, on_server))
        finally:
            for w in (cwriter, swriter):
                w.close()
            with self.lock:
                self.active -= 1

    async def pump(self, reader, writer, note):
        queue = asyncio.Queue()
        delay = self.delay

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(262144)
                if not data:
                    break
                note(data)
                queue.put_nowait((time.monotonic() + delay, data))
        except OSError:
            pass
        queue.put_nowait((0, None))
        try:
            await sender
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            pass
