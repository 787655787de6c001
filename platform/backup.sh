#!/usr/bin/env bash
# Back up Shuzhi: the PostgreSQL database (pg_dump, custom format) and the uploaded files.
#
#   DATABASE_URL=postgresql://… SHUZHI_MEDIA_ROOT=/data/media platform/backup.sh /backups/shuzhi-$(date +%F)
#
# Writes into the (new or empty) folder given: database.dump, media.tar.gz and SHA256SUMS. The
# database is dumped first and the files after it, so every document in the dump has its file in the
# archive (a file uploaded meanwhile is only an extra). The platform keeps running meanwhile: pg_dump
# reads one consistent snapshot. Needs pg_dump of the server's major version or newer (PG_BIN names
# the folder holding it, e.g. /usr/lib/postgresql/17/bin); restore with platform/restore.sh.
set -euo pipefail

die() { echo "backup.sh: $*" >&2; exit 1; }

dest=${1:-}
[ -n "$dest" ] || die "usage: backup.sh <folder>   (DATABASE_URL and SHUZHI_MEDIA_ROOT from the environment)"
[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set"
media=${SHUZHI_MEDIA_ROOT:-}
[ -n "$media" ] || die "SHUZHI_MEDIA_ROOT is not set (the folder of uploaded files)"
[ -d "$media" ] || die "SHUZHI_MEDIA_ROOT ($media) is not a folder"
bin=${PG_BIN:+$PG_BIN/}

mkdir -p "$dest"
[ -z "$(ls -A "$dest")" ] || die "$dest is not empty"

"${bin}pg_dump" --format=custom --no-owner --no-privileges --file "$dest/database.dump" --dbname "$DATABASE_URL"
tar -C "$media" -czf "$dest/media.tar.gz" .
(cd "$dest" && sha256sum database.dump media.tar.gz > SHA256SUMS)
echo "backup.sh: wrote $dest (database.dump, media.tar.gz, SHA256SUMS)"
