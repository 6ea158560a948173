#!/bin/sh
# Runs in dom0 (from the data disk, /data): boots each guest of /data/guests/list with
# `xl create` and checks its console log. One line per guest on the serial console:
#   RSGRUB-XEN-RESULT PASS|FAIL|INFO NAME SECONDS detail...
# Logs for the host in /data/out/.
set -u
D=/data
G=$D/guests
OUT=$D/out
CON=/var/log/xen/console
rm -rf "$OUT"
mkdir -p "$OUT"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "RSGRUB-DOM0: $*"; }

install -m 755 "$D/rsgrub" /usr/local/bin/rsgrub
[ -f "$D/bootloader-under-test" ] && install -m 755 "$D/bootloader-under-test" /usr/local/bin/bootloader-under-test
# The uid libxl's restricted bootloader runs as: xen-qemuuser-range-base + domid (libxl's
# bootloader_uid(), shared with the device model's dm_restrict users).
getent passwd xen-qemuuser-range-base >/dev/null ||
    useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --uid 131072 xen-qemuuser-range-base
say "rsgrub $(/usr/local/bin/rsgrub --version 2>&1 | head -n1); $(xl info | sed -n 's/^xen_version *: /xen /p')"

result() { echo "RSGRUB-XEN-RESULT $*"; echo "$*" >>"$OUT/results"; }

# check NAME LOG: the token line must carry the expected token; no decoy anywhere.
check() {
    tok=$(sed -n 's/^token //p' "$G/$1.expect")
    got=$(sed -n 's/^RSGRUB-GUEST-TOKEN \([0-9a-f]*\).*/\1/p' "$2" | head -n1)
    for dcy in $(sed -n 's/^decoy //p' "$G/$1.expect"); do
        if grep -q "$dcy" "$2"; then
            echo "booted a decoy entry (token=$dcy, wanted $tok)"
            return 1
        fi
    done
    [ -n "$got" ] || { echo "no token line on the guest console"; return 1; }
    [ "$got" = "$tok" ] || { echo "wrong token $got, wanted $tok"; return 1; }
    return 0
}

# why NAME: a one-line reason from xl's log and the bootloader's log.
why() {
    r=$(grep -E 'error|failed|ERROR|Error|RuntimeError' "$OUT/$1.xl.log" 2>/dev/null | grep -v 'bootloader arg' |
        sed 's/^libxl: //' | head -n 3 | tr '\n' ' ' | cut -c1-300)
    for f in /var/log/xen/bootloader.*.log; do
        [ -s "$f" ] && r="$r [bootloader: $(tr -d '\r' <"$f" | grep -v '^\s*$' | tail -n 2 | tr '\n' ' ' | cut -c1-200)]"
    done
    echo "${r:-no error message}"
}

# wait_console NAME T0 LIMIT: poll the console log; sets T_FIRST / T_TOKEN (seconds from
# T0, or "-"); returns when the domain is gone (the guest prints its token and powers off)
# or LIMIT seconds have passed. Cheap checks every 0.1 s, `xl domid` only every second.
wait_console() {
    log="$CON/guest-$1.log"
    T_FIRST=-
    T_TOKEN=-
    end=$(($(date +%s) + $3))
    i=0
    while :; do
        t=$(now)
        if [ "$T_FIRST" = - ] && [ -s "$log" ]; then T_FIRST=$(secs "$2" "$t"); fi
        if [ "$T_TOKEN" = - ] && grep -q '^RSGRUB-GUEST-TOKEN' "$log" 2>/dev/null; then
            T_TOKEN=$(secs "$2" "$t")
            [ "$T_FIRST" = - ] && T_FIRST=$T_TOKEN
        fi
        i=$((i + 1))
        if [ $((i % 10)) = 0 ]; then
            xl domid "$1" >/dev/null 2>&1 || break
            [ "$(date +%s)" -ge "$end" ] && break
        fi
        sleep 0.1
    done
}

# bl_time NAME: seconds libxl spent in the bootloader step ("running bootloader" to
# "bootloader execution successful"; includes a qcow2 disk's local attach and detach).
bl_time() {
    awk '/running bootloader/ && !a { a = substr($0, 2, 8) + 0 }
         /bootloader execution successful|bootloader failed/ && a && !b { b = substr($0, 2, 8) + 0 }
         END { if (a && b) printf "%.1f", b - a; else printf "-" }' "$OUT/$1.xl.log"
}

run_guest() {
    name=$1
    cfg=$G/$name.cfg
    rm -f /var/log/xen/bootloader.*.log
    env=""
    case "$name" in e-*) env="LIBXL_BOOTLOADER_RESTRICT=1" ;; esac
    say "xl create $name"
    t0=$(now)
    case "$name" in
    f-*)
        # The menu on the console: xl create -c, keys typed by a pty driver.
        python3 "$D/menu-driver.py" --log "$OUT/$name.pty.log" --keys down,down,enter -- \
            xl -vvv create -c "$cfg" >"$OUT/$name.xl.log" 2>&1
        rc=$?
        ;;
    *)
        env $env timeout 300 python3 "$D/tslog.py" "$OUT/$name.xl.log" -- xl -vvv create "$cfg"
        rc=$?
        ;;
    esac
    t1=$(now)
    T_XL=$(secs "$t0" "$t1")
    note=""
    if [ $rc -eq 3 ]; then
        # menu-driver: xl create -c worked, but no menu showed: still check what booted.
        note="no boot menu on the console; "
        rc=0
    fi
    if [ $rc -ne 0 ]; then
        xl destroy "$name" >/dev/null 2>&1
        cp /var/log/xen/bootloader.*.log "$OUT/" 2>/dev/null
        kind=FAIL
        case "$name" in p-*) kind=INFO-FAIL ;; esac
        result "$kind $name $T_XL xl create failed (rc $rc): $(why "$name")"
        return
    fi
    wait_console "$name" "$t0" 120
    case "$name" in f-*)
        # xl create -c returned after the guest ended: take the pty driver's times (the
        # first line is the menu's).
        T_TOKEN=$(sed -n 's/^menu-driver: token line after \([0-9.]*\)s$/\1/p' "$OUT/$name.xl.log")
        T_FIRST="$(sed -n 's/^menu-driver: menu on screen after \([0-9.]*\)s.*/\1/p' "$OUT/$name.xl.log")"
        [ -n "$T_TOKEN" ] || T_TOKEN=-
        [ -n "$T_FIRST" ] || T_FIRST=-
        ;;
    esac
    xl destroy "$name" >/dev/null 2>&1
    cp "$CON/guest-$name.log" "$OUT/$name.console.log" 2>/dev/null || : >"$OUT/$name.console.log"
    # What libxl passed to the bootloader (argv), for the report.
    argv=$(sed -n 's/.*bootloader arg: //p' "$OUT/$name.xl.log" | tr '\n' ' ')
    echo "RSGRUB-XEN-ARGV $name $argv"
    if msg=$(check "$name" "$OUT/$name.console.log") && [ -z "$note" ]; then
        kind=PASS
        blt=$(bl_time "$name")
        detail="xl create ${T_XL}s, first console line ${T_FIRST}s, token ${T_TOKEN}s"
        [ "$blt" = - ] || detail="bootloader ${blt}s, $detail"
    else
        kind=FAIL
        detail="$note$msg (xl create ${T_XL}s)"
    fi
    case "$name" in p-*) kind="INFO-$kind" ;; esac
    result "$kind $name $T_TOKEN $detail"
}

# The bootloaders alone on guest a's disk (no xl), as libxl runs them with -q: the time
# rsgrub and PyGrub take in dom0 here, for the comparison in the report.
if [ -f "$G/a.img" ]; then
    for b in /usr/local/bin/rsgrub /usr/lib/xen-4.17/bin/pygrub; do
        rm -rf /tmp/bl.d
        mkdir -p /tmp/bl.d
        : >/tmp/bl.out
        t0=$(now)
        "$b" -q --output=/tmp/bl.out --output-format=simple0 --output-directory=/tmp/bl.d \
            "$G/a.img" </dev/null >"$OUT/direct-$(basename "$b").log" 2>&1
        rc=$?
        t1=$(now)
        picked=$(tr '\0' '\n' </tmp/bl.out | sed -n 's/.*token=\([0-9a-f]*\).*/\1/p')
        echo "RSGRUB-XEN-DIRECT $(basename "$b") rc=$rc $(secs "$t0" "$t1")s token=$picked"
    done
    rm -rf /tmp/bl.d /tmp/bl.out
fi

for name in $(cat "$G/list"); do
    run_guest "$name"
done
xl list >"$OUT/xl-list.txt" 2>&1
dmesg >"$OUT/dmesg.txt" 2>&1
cp -r /var/log/xen "$OUT/var-log-xen" 2>/dev/null
sync
