# keyctl(2): kernel keyrings are not namespaced; reading the session keyring is a leak.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_keyctl = 250
KEYCTL_GET_KEYRING_ID = 0
KEY_SPEC_SESSION_KEYRING = -3
print("REDTEAM keyctl(KEYCTL_GET_KEYRING_ID)", flush=True)
rc = libc.syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
print("ESCAPED: keyctl returned", rc, ctypes.get_errno())
