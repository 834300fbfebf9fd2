# AF_ALG: the kernel crypto socket API, a recurring source of kernel bugs.
import socket

print("REDTEAM socket(AF_ALG)", flush=True)
s = socket.socket(38, socket.SOCK_SEQPACKET, 0)
print("ESCAPED: AF_ALG fd", s.fileno())
s.bind(("aead", "authencesn(hmac(sha256),cbc(aes))"))
print("ESCAPED: AF_ALG bound")
