# The host's DNS server and names leak through the engine-managed /etc files.
echo "REDTEAM resolv.conf"
echo "--- /etc/resolv.conf"; cat /etc/resolv.conf 2>/dev/null
echo "--- /etc/hosts"; cat /etc/hosts 2>/dev/null
echo "--- end"
