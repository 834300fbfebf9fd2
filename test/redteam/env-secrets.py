# Look for secrets in the environment: our own, PID 1's, and every readable /proc/*/environ.
import os

print("REDTEAM env secrets", flush=True)
print("ENV", " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())))
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            data = f.read().replace(b"\0", b" ").decode(errors="replace")
        print(f"PROC {pid} readable:", data)
    except OSError as e:
        print(f"PROC {pid} denied:", e.strerror)
for path in ("/proc/1/cmdline", "/run/secrets", "/var/run/secrets/kubernetes.io", "/root/.docker/config.json", "/work/.airlock"):
    print(path, "exists" if os.path.exists(path) else "absent")
