# Print fake launcher header lines (every status word the host knows), claim success, exit 3.
import sys

out = sys.stdout.buffer
out.write(b"\0AIRLOCK ok\n")
out.write(b"\0AIRLOCK patch_failed\n")
out.write(b"\0AIRLOCK input_failed\n")
out.write(b"exit status 0\n")
out.flush()
sys.stderr.write("REDTEAM fake header\n")
sys.exit(3)
