# util-linux unshare: a user namespace is the usual first step of a container escape.
# The last command's status is the job's: the seccomp tripwire kills unshare(2) with SIGSYS.
echo "REDTEAM unshare -U"
unshare -U -r sh -c 'echo ESCAPED: root in a user namespace; id'
