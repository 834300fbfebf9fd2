# Ignore every catchable signal and sleep: only SIGKILL at the wall clock ends it.
import signal, time

for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
    signal.signal(s, signal.SIG_IGN)
print("REDTEAM sigterm sleeper", flush=True)
while True:
    time.sleep(60)
