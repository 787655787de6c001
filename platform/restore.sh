#!/usr/bin/env bash
# Restore a backup made by platform/backup.sh into an EMPTY database and an empty upload folder.
#
#   DATABASE_URL=postgresql://…/shuzhi_new SHUZHI_MEDIA_ROOT=/data/media platform/restore.sh /backups/shuzhi-2026-12-03
#
# Checks the archive's SHA256SUMS, refuses a database that already has tables or an upload folder that
# already has files, restores the database (pg_restore, stopping at the first error) and then the files.
# The vector extension needs a superuser once: when DATABASE_URL's role is not one, a DBA first runs
#   psql -d <database> -c 'CREATE EXTENSION IF NOT EXISTS vector'
# Stop web, worker and beat before restoring over a running deployment; afterwards run
# `python manage.py migrate` (a no-op unless the code is newer than the backup) and start them again.
set -euo pipefail

die() { echo "restore.sh: $*" >&2; exit 1; }

src=${1:-}
[ -n "$src" ] || die "usage: restore.sh <backup folder>   (DATABASE_URL and SHUZHI_MEDIA_ROOT from the environment)"
[ -f "$src/database.dump" ] && [ -f "$src/media.tar.gz" ] || die "$src holds no backup (database.dump, media.tar.gz)"
[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set"
media=${SHUZHI_MEDIA_ROOT:-}
[ -n "$media" ] || die "SHUZHI_MEDIA_ROOT is not set (the folder of uploaded files)"
bin=${PG_BIN:+$PG_BIN/}

(cd "$src" && sha256sum --check --quiet SHA256SUMS) || die "the backup's checksums do not match"
tables=$("${bin}psql" --dbname "$DATABASE_URL" --no-psqlrc --tuples-only --no-align \
  --command "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$tables" = "0" ] || die "the database already has $tables tables: restore into an empty database"
mkdir -p "$media"
[ -z "$(ls -A "$media")" ] || die "SHUZHI_MEDIA_ROOT ($media) is not empty"

"${bin}pg_restore" --no-owner --no-privileges --no-comments --exit-on-error --dbname "$DATABASE_URL" "$src/database.dump"
tar -C "$media" -xzf "$src/media.tar.gz"
echo "restore.sh: restored $src; now run: python manage.py migrate"
