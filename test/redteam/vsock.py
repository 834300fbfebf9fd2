# AF_VSOCK: a channel to the hypervisor/host that ignores --network none.
import socket

print("REDTEAM socket(AF_VSOCK)", flush=True)
s = socket.socket(40, socket.SOCK_STREAM)
print("ESCAPED: vsock fd", s.fileno())
s.connect((2, 1024))
print("ESCAPED: connected to the host over vsock")
