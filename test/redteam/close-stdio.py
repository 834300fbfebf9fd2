# Close stdout and stderr, then keep running: the host must not take the closed streams for
# the end of the job (which would stop the wall clock and let the process run on unobserved).
import os

print("REDTEAM close stdio", flush=True)
os.close(1)
os.close(2)
while True:
    pass
