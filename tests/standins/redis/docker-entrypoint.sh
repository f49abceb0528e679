#!/bin/bash
# Like the official image: a command starting with an option is redis-server's options;
# the server runs as the redis user, with protected mode off (it listens on the
# container's network), added after the other arguments as the official image does.
set -o errexit -o nounset -o pipefail

if [[ ${1:-} == -* ]]; then
  set -- redis-server "$@"
fi
if [[ ${1:-} == redis-server ]]; then
  shift
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server "$@" --protected-mode no
fi
exec "$@"
