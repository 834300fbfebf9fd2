# Leave a daemon behind (double fork, new session, stdio closed) and exit 0 at once:
# the job ends when its command does; the container and the daemon go with it.
import os, sys, time

print("REDTEAM orphan daemon", flush=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        while True:
            time.sleep(1)
    os._exit(0)
os.wait()
print("parent done")
