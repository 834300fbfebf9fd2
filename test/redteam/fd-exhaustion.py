# Open files until the kernel refuses: RLIMIT_NOFILE (openFiles) stops it.
import errno

print("REDTEAM fd exhaustion", flush=True)
held = []
try:
    while True:
        held.append(open("/dev/null"))
except OSError as e:
    print("stopped:", errno.errorcode.get(e.errno, e.errno), "after", len(held), "files")
