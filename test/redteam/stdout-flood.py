# Flood stdout: the host counts bytes and kills past the cap.
import sys

print("REDTEAM stdout flood", flush=True)
line = "A" * 1023 + "\n"
while True:
    sys.stdout.write(line)
