# Start threads until the kernel refuses: every thread is a task counted by PidsLimit.
import threading, time

print("REDTEAM thread bomb", flush=True)
stop = threading.Event()
threads = []
try:
    while True:
        t = threading.Thread(target=stop.wait, daemon=True)
        t.start()
        threads.append(t)
except RuntimeError as e:
    print("stopped:", e, "after", len(threads), "threads")
stop.set()
