#!/bin/sh
# Start one replica of the service: wait for the database (at most DB_WAIT_SECONDS, default
# 60), apply the migrations, then become gunicorn (exec: it gets the container's signals).
#
# Several replicas may start at once: on PostgreSQL the migration holds an advisory lock
# (migrations/env.py), so one replica migrates and the others wait, then find nothing to do.
#
# With arguments, runs them instead, as they are (no wait, no migration), e.g.
#   entrypoint.sh flask --app backend notifications deliver --loop
#
# Works in the image (/app/entrypoint.sh) and from a checkout: gunicorn.conf.py is the one
# next to this script.
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

flask --app backend db-wait --timeout "${DB_WAIT_SECONDS:-60}"
flask --app backend db upgrade
exec gunicorn --config "$here/gunicorn.conf.py" 'backend:create_app()'
