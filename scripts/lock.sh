#!/usr/bin/env bash
# `npm run lock`: regenerates package-lock.json from package.json alone, in a scratch folder, so
# no installed node_modules (one platform's optional packages) shapes it. The lock then lists
# every platform's optional packages and `npm ci` (setup's only install path) accepts it on any
# fresh machine. Run it after changing a dependency in package.json; commit both files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$root/package.json" "$scratch/"
# keep the versions already locked where package.json still allows them
[ -f "$root/package-lock.json" ] && cp "$root/package-lock.json" "$scratch/"
(cd "$scratch" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error)
# npm ci must accept it: a dry run in a second scratch folder, from the lock alone
check=$(mktemp -d)
trap 'rm -rf "$scratch" "$check"' EXIT
cp "$root/package.json" "$scratch/package-lock.json" "$check/"
(cd "$check" && npm ci --dry-run --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
cp "$scratch/package-lock.json" "$root/package-lock.json"
echo "lock: package-lock.json regenerated and accepted by npm ci"
