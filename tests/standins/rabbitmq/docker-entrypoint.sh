#!/bin/bash
# Like the official image: RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS become the first
# user, on RABBITMQ_DEFAULT_VHOST, when the node boots with empty data (an administrator
# unless a file in /etc/rabbitmq/conf.d sets default_user_tags); the node logs to the
# console, listens on every interface, and runs as the rabbitmq user. The node name is
# rabbit@<host name>, so the data survives a new container only under the same host name.
set -o errexit -o nounset -o pipefail

if [[ ${1:-} != rabbitmq-server ]]; then
  exec "$@"
fi

cat >/etc/rabbitmq/rabbitmq.conf <<CONF
loopback_users.guest = false
listeners.tcp.default = 5672
management.tcp.port = 15672
log.console = true
log.file = false
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
default_vhost = ${RABBITMQ_DEFAULT_VHOST:-/}
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
CONF

chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
