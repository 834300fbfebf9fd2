# Cloud metadata service (instance credentials) over plain HTTP.
import errno, urllib.request

print("REDTEAM metadata 169.254.169.254", flush=True)
for url in ("http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://169.254.169.254/computeMetadata/v1/?recursive=true",
            "http://[fd00:ec2::254]/latest/meta-data/"):
    try:
        body = urllib.request.urlopen(url, timeout=2).read(200)
        print("ESCAPED:", url, body)
    except OSError as e:
        reason = getattr(e, "reason", e)
        code = getattr(reason, "errno", None)
        print("refused", url, errno.errorcode.get(code, code))
