#!/usr/bin/env bash
# Install and start what the test suite needs from the operating system (Debian).
set -eu
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v psql >/dev/null || need_apt+=(postgresql postgresql-client)
# The ssh target is tested against real sshd instances (tests/support/sshd.py).
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi
# PostgreSQL on 127.0.0.1:5432 with a trusting `postgres` user: start it if it is down.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | head -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    sleep 2
  fi
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  echo "PostgreSQL is not reachable on 127.0.0.1:5432 as user postgres; the PostgreSQL run needs it" >&2
  exit 1
fi
# The sshd fleets log in as a uid-0 user whose shell is /bin/sh: root's bash would source
# ~/.bashrc (pyenv init, ~0.5 s, and a lock that can stall every session) for every command.
if [ "$(id -u)" -eq 0 ] && ! getent passwd lockstep-fleet >/dev/null; then
  useradd -o -u 0 -g 0 -M -d /root -s /bin/sh -p '*' lockstep-fleet  # '*': no password, not locked
fi
git config --global user.email >/dev/null 2>&1 || git config --global user.email "ci@lockstep.invalid"
git config --global user.name >/dev/null 2>&1 || git config --global user.name "Lockstep CI"
echo "system dependencies ready"
