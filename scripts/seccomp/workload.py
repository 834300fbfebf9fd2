"""Everyday Python that must keep working under profiles/seccomp/strict.json (run by probe.sh).

Prints one `name: ok ...` line per check; any exception fails the run (non-zero exit).
"""
import asyncio
import ctypes
import json
import mmap
import multiprocessing
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import zipfile


def square(x):
    return x * x


def check(name, fn):
    print(f"{name}: ok {fn()}", flush=True)


def run_subprocess():
    out = subprocess.run(["sh", "-c", "echo hi from sh"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run_threads():
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(i * i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def run_pool():
    with multiprocessing.Pool(2) as pool:
        return pool.map(square, range(6))


def run_asyncio():
    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    async def main():
        with tempfile.TemporaryDirectory() as d:
            server = await asyncio.start_unix_server(echo, path=os.path.join(d, "s"))
            reader, writer = await asyncio.open_unix_connection(os.path.join(d, "s"))
            writer.write(b"ping\n")
            line = (await reader.readline()).decode().strip()
            writer.close()
            server.close()
            await server.wait_closed()
        proc = await asyncio.create_subprocess_exec("true")
        rest = await asyncio.gather(asyncio.sleep(0, "a"), proc.wait())
        return [line, *rest]

    return asyncio.run(main())


def run_ctypes():
    libc = ctypes.CDLL(None)
    arr = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
    cmp = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))(
        lambda a, b: a[0] - b[0]
    )  # a libffi closure: the callback path
    libc.qsort(arr, len(arr), ctypes.sizeof(ctypes.c_int), cmp)
    return f"getpid={libc.getpid()} qsort={list(arr)}"


def run_sqlite():
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(os.path.join(d, "t.db"))
        db.execute("create table t (x)")
        db.executemany("insert into t values (?)", [(i,) for i in range(10)])
        db.commit()
        mem = sqlite3.connect(":memory:").execute("select 1 + 1").fetchone()[0]
        return f"sum={db.execute('select sum(x) from t').fetchone()[0]} mem={mem}"


def run_ssl():
    ctx = ssl.create_default_context()
    return f"{ssl.OPENSSL_VERSION} verify={ctx.verify_mode.name}"


def run_json():
    return json.loads(json.dumps({"a": [1, 2, {"b": None}]}))


def run_zipfile():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "z.zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("a.txt", "hello" * 100)
        with zipfile.ZipFile(path) as z:
            return len(z.read("a.txt"))


def run_mmap():
    with tempfile.TemporaryFile() as f:
        f.write(b"x" * 4096)
        f.flush()
        with mmap.mmap(f.fileno(), 4096) as m:
            m[0:5] = b"hello"
            file_backed = bytes(m[0:5])
    anon = mmap.mmap(-1, 4096)
    anon.write(b"anon")
    return f"{file_backed!r} {bytes(anon[0:4])!r}"


def run_signals():
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    os.kill(os.getpid(), signal.SIGUSR1)
    signal.setitimer(signal.ITIMER_REAL, 0.01)
    signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
    signal.pause()
    return [signal.Signals(s).name for s in got]


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}", flush=True)
    for name, fn in [
        ("subprocess", run_subprocess),
        ("threads", run_threads),
        ("multiprocessing.Pool", run_pool),
        ("asyncio", run_asyncio),
        ("ctypes", run_ctypes),
        ("sqlite3", run_sqlite),
        ("ssl", run_ssl),
        ("json", run_json),
        ("zipfile", run_zipfile),
        ("mmap", run_mmap),
        ("signals", run_signals),
    ]:
        check(name, fn)
    print("python workload: all ok", flush=True)
