# A bind shell: listen on a port the test then tries to reach from the host.
import errno, os, socket

port = int(os.environ["REDTEAM_PORT"])
print("REDTEAM bind shell on", port, flush=True)
for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((host, port))
        s.listen(1)
        print("ESCAPED: listening on", host, port)
    except OSError as e:
        print("refused listen", host, errno.errorcode.get(e.errno, e.errno))
