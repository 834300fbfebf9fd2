# Fill /dev/shm (writable under a read-only root): ShmSize caps it.
import errno

print("REDTEAM shm fill", flush=True)
written = 0
try:
    with open("/dev/shm/fill", "wb", buffering=0) as f:
        while True:
            written += f.write(b"\1" * (1 << 20))
except OSError as e:
    print("stopped:", errno.errorcode.get(e.errno, e.errno), "after", written // (1 << 20), "MiB")
