# Allocate and touch memory until something stops us.
print("REDTEAM memory bomb", flush=True)
hog = []
while True:
    hog.append(bytearray(8 * 1024 * 1024))
    print("allocated", len(hog) * 8, "MiB", flush=True)
