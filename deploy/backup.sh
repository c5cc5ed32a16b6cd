#!/bin/sh
# A consistent backup of ckm while it runs: the CRM (pg_dump for PostgreSQL, SQLite's online
# backup for the default file), the outbox journal, and the data folder's small files — the
# per-install secrets in ckm.local.toml (every SIP password derives from them), the
# certificates, portal photos, the ACD snapshot. Speech models and logs are left out: they
# are rebuilt or reinstalled. Keeps 14 days. Run from the checkout (systemd: ckm-backup.service).
set -eu
DEST=${CKM_BACKUP_DIR:-/var/backups/ckm}
KEEP_DAYS=${CKM_BACKUP_KEEP_DAYS:-14}
PY=${CKM_PYTHON:-.venv/bin/python}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$DEST"

# The settings in effect (ckm.local.toml, CKM_CONFIG, CKM_* variables), as ckm reads them.
eval "$("$PY" - <<'PY'
import shlex
from ground.settings import load
s = load(generate_secrets=False)
print(f"DB_URL={shlex.quote(s.db_url)}")
print(f"DATA_DIR={shlex.quote(str(s.data_dir))}")
PY
)"

sqlite_backup() {  # source target: SQLite's online backup, safe while ckm writes
    "$PY" -c 'import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()' "$1" "$2"
}

case "$DB_URL" in
    sqlite:///*)
        sqlite_backup "${DB_URL#sqlite:///}" "$DEST/crm-$STAMP.sqlite3"
        echo "CRM (SQLite) -> $DEST/crm-$STAMP.sqlite3" ;;
    postgresql*)
        # pg_dump wants a libpq URL: drop SQLAlchemy's "+driver".
        PG_URL=$(printf '%s' "$DB_URL" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')
        pg_dump --format=custom --file="$DEST/crm-$STAMP.dump" "$PG_URL"
        echo "CRM (PostgreSQL) -> $DEST/crm-$STAMP.dump" ;;
    *)
        echo "backup.sh: do not know how to back up $DB_URL" >&2
        exit 1 ;;
esac

if [ -f "$DATA_DIR/crm-outbox.sqlite3" ]; then
    sqlite_backup "$DATA_DIR/crm-outbox.sqlite3" "$DEST/outbox-$STAMP.sqlite3"
fi
tar -C "$DATA_DIR" -czf "$DEST/files-$STAMP.tar.gz" \
    --exclude=./models --exclude=./logs --exclude=./test-artifacts \
    --exclude=./ckm.sqlite3 --exclude=./crm-outbox.sqlite3 \
    --exclude='./*.sqlite3-journal' --exclude='./*.sqlite3-wal' --exclude='./*.sqlite3-shm' .
echo "data folder -> $DEST/files-$STAMP.tar.gz"
find "$DEST" -maxdepth 1 -type f -mtime +"$KEEP_DAYS" -delete
