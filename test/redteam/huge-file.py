# One huge file from Python, which ignores SIGXFSZ: the write fails with EFBIG instead.
import errno

print("REDTEAM huge file", flush=True)
written = 0
try:
    with open("/work/huge", "wb", buffering=0) as f:
        while True:
            written += f.write(b"\0" * 65536)
except OSError as e:
    print("stopped:", errno.errorcode.get(e.errno, e.errno), "after", written, "bytes")
