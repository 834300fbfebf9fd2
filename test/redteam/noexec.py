# Drop a binary (and a shared library) into every writable place and try to run it:
# directly, through the dynamic loader (which mmaps it PROT_EXEC), and with dlopen.
import ctypes, glob, os, shutil, subprocess

print("REDTEAM dropped binaries", flush=True)
for d in ["/work", "/tmp", "/dev/shm"]:
    path = os.path.join(d, "dropped")
    shutil.copy("/bin/true", path)
    os.chmod(path, 0o755)
    try:
        subprocess.run([path], check=True)
        print(f"ESCAPED: exec {d}")
    except PermissionError:
        print(f"noexec {d}: exec denied")
    loader = subprocess.run(["/lib64/ld-linux-x86-64.so.2", path], capture_output=True, text=True)
    if loader.returncode == 0:
        print(f"ESCAPED: ld.so {d}")
    elif "failed to map segment" in loader.stderr:
        print(f"noexec {d}: ld.so cannot map it")
    else:
        print(f"ld.so {d}: {loader.returncode} {loader.stderr.strip()}")
    lib = os.path.join(d, "dropped.so")
    shutil.copy(sorted(glob.glob("/usr/lib/x86_64-linux-gnu/libffi.so*"))[0], lib)
    try:
        ctypes.CDLL(lib)
        print(f"ESCAPED: dlopen {d}")
    except OSError as e:
        print(f"noexec {d}: dlopen denied" if "failed to map segment" in str(e) else f"dlopen {d}: {e}")
