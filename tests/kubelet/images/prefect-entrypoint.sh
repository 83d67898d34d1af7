#!/usr/bin/env bash
# Stand-in for /opt/prefect/entrypoint.sh of the prefecthq/prefect images, which tini starts:
# read the user's ~/.bashrc, install EXTRA_PIP_PACKAGES, then run the command (or a login
# shell without one). Pods here cannot reach PyPI, so EXTRA_PIP_PACKAGES fails loudly.
set -e

if [ -f ~/.bashrc ]; then
  . ~/.bashrc
fi

if [ -n "$EXTRA_PIP_PACKAGES" ]; then
  echo "+uv pip install $EXTRA_PIP_PACKAGES"
  echo "kubelet stand-in: EXTRA_PIP_PACKAGES needs PyPI, which pods here cannot reach" >&2
  exit 1
fi

if [ $# -eq 0 ]; then
  exec bash --login
fi
exec "$@"
