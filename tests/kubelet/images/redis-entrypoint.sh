#!/bin/sh
# Stand-in for docker-entrypoint.sh of the official redis image, written for these tests from
# the image's documented behaviour: arguments that start with `-` (or a `.conf` file) are
# redis-server's; as root, redis-server gets the working folder (/data) made the redis user's
# and runs as that user; a umask of 0022 becomes 0077, so Redis's files are its own only.
set -e

case "$1" in
  -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid redis --regid redis --init-groups -- "$0" "$@"
fi

if [ "$1" = redis-server ] && [ "$(umask)" = 0022 ]; then
  umask 0077
fi

exec "$@"
