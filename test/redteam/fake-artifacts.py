# Write a tar stream (with an artifact-looking entry) to stdout and into a file with a
# collector-looking name; neither may become an artifact.
import io, sys, tarfile

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tar:
    data = b"forged artifact\n"
    info = tarfile.TarInfo("out/forged.txt")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
sys.stdout.buffer.write(buf.getvalue())
sys.stdout.flush()
with open("/work/.airlock-collect.tar", "wb") as f:
    f.write(buf.getvalue())
sys.stderr.write("REDTEAM fake artifacts\n")
