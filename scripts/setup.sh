#!/usr/bin/env bash
# Installs the system packages mimlab needs, when they are missing: OpenBLAS for the
# matrix products, SQLite for the results database, libpng and libjpeg-turbo (TurboJPEG)
# for image-folder datasets, and Slurm with MUNGE for
# `sweep run --backend slurm` and the tests that bring up a local cluster
# (scripts/slurm-local.sh).
set -euo pipefail
need=()
for pkg in libopenblas-dev libsqlite3-dev libpng-dev libturbojpeg0-dev slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
((${#need[@]})) || exit 0
echo "setup: installing ${need[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
# The Slurm and MUNGE packages' postinst scripts would start system services where
# there is no systemd; a policy-rc.d that answers 101 keeps them from it (Docker-style
# images already have one). scripts/slurm-local.sh starts its own daemons.
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
log="${TMPDIR:-/tmp}/mimlab-setup-apt.log"
rc=0
{
  $SUDO apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
} >"$log" 2>&1 || rc=$?
[ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
if [ "$rc" -ne 0 ]; then
  tail -n 30 "$log" >&2
  echo "setup: apt-get install failed (exit $rc); full log: $log" >&2
  exit 1
fi
