#!/bin/sh
# Negative control for run.sh: a "bootloader" that always boots entry 0, whatever the
# guest's config says (rsgrub with --entry=0 added). `BOOTLOADER=tests/xen/entry0-bootloader.sh
# sh tests/xen/run.sh` must report FAIL for every guest (each one's entry 0 is a decoy).
exec /usr/local/bin/rsgrub --entry=0 "$@"
