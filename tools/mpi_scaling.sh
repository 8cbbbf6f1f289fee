#!/bin/bash
# MPI scaling of the real job (issue #12): `mpirun -n R vggcl classify` on a
# folder of images, each rank with one PoCL thread and one decoding thread (so
# ranks map to cores), VGG16 at 224 with a 7-class GAP head, batch 8 (BATCH). Wall
# time with start-up, best of ROUNDS alternating rounds, and the median over
# rounds of each round's own speed-up (the machine's speed drifts between
# rounds; a round's runs are seconds apart); every run's logits must equal one
# process's, byte for byte. An untimed run on 16 images first fills the caches
# (PoCL's kernels, vggcl's programs), which would otherwise count in the first
# round's first run; on 2 ranks where a run has more, so MPI's start is tried
# first. Prints a Markdown table after each round (a run cut short keeps the
# rounds it finished), and on stderr after each run where each rank's time
# went (VGGCL_RANK_TIMES: start-up, MPI_Init, the model, its share, the
# gathering, the waiting for the others).
#
#   tools/mpi_scaling.sh VGGCL IMAGES_DIR [RANKS] [ROUNDS] [COUNT]
#
# VGGCL is a vggcl built with MPI. RANKS is a comma list (default 1,2; the
# first is the base of the speed-up), ROUNDS defaults to 3. With COUNT, the
# folder's files are repeated to COUNT images in a temporary folder. The
# weights are made there by weights/make_test_weights.py (numpy only).
# VGGCL_DEVICE picks the device (default: the first CPU device of `vggcl
# devices`, PoCL's, also on a GPU machine); MPIRUN_ARGS adds mpirun options
# (e.g. --hostfile hosts; then TMPDIR must be a folder that every machine sees
# at the same path, as the weights and the images are made there). AB_ARGS:
# more mpirun options for a second run of the last rank count in each round,
# right after the first, its row marked R' (e.g. AB_ARGS="-x
# VGGCL_HUGE_PAGES=1": the huge-page advice's part in the start-up; AB_ARGS="--map-by core --bind-to
# core": ranks pinned). Ranks are not bound (--bind-to none) unless MPIRUN_ARGS or AB_ARGS binds them.
# BATCH: classify's --batch (default 8; the batches handed out to the ranks, and what each runs at once).
set -euo pipefail
usage() {
  echo "mpi_scaling: $1" >&2
  echo "usage: tools/mpi_scaling.sh VGGCL IMAGES_DIR [RANKS (1,2)] [ROUNDS (3)] [COUNT]" >&2
  exit 2
}
[ $# -ge 2 ] && [ $# -le 5 ] || usage "expected 2 to 5 arguments, not $#"
[ -x "$1" ] && [ -f "$1" ] || usage "$1: no vggcl there (a vggcl built with MPI)"
[ -d "$2" ] || usage "$2: not a folder of images"
vggcl=$(realpath "$1")
images=$(realpath "$2")
IFS=, read -r -a ranks <<<"${3:-1,2}"
for r in "${ranks[@]}"; do [[ "$r" =~ ^[1-9][0-9]*$ ]] || usage "RANKS is a comma list of rank counts from 1, not '${3:-}'"; done
runs=("${ranks[@]}") # (and R' for AB_ARGS's run)
ab_note= # (the table's heading says what R' was)
if [ -n "${AB_ARGS:-}" ]; then runs+=("${ranks[-1]}'") ab_note="; ${ranks[-1]}': AB_ARGS=$AB_ARGS"; fi
rounds=${4:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || usage "ROUNDS is a count from 1, not '$rounds'"
batch=${BATCH:-8}
count=${5:-}
[ -z "$count" ] || [[ "$count" =~ ^[1-9][0-9]*$ ]] || usage "COUNT is a count from 1, not '$count'"
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
round=0
# (cut by a signal, timeout's at the end of a budget: the table of the runs made so far, the round under way's
# too; the EXIT trap then removes $tmp, which a signal before any round left behind)
trap 'echo "mpi_scaling: cut in round $round" >&2; [ "$round" -gt 0 ] && table "$round"; exit 143' TERM INT
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
py=/usr/bin/python3 # (Debian's, with numpy; another python3 may come first on PATH)
"$py" -c 'import numpy' 2>/dev/null || py=python3
# (the extensions vggcl takes in a folder: CLI_IMAGE_EXTENSIONS; links followed and hidden files passed over, as
# vggcl lists a folder; the count in the table is the lines classify printed, one per image)
formats=(\( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' -o -iname '*.bmp' -o -iname '*.tif'
  -o -iname '*.tiff' -o -iname '*.ppm' -o -iname '*.pgm' \))
mapfile -t files < <(find -L "$images" -mindepth 1 -maxdepth 1 -type f ! -name '.*' "${formats[@]}" | sort)
[ "${#files[@]}" -gt 0 ] || { echo "mpi_scaling: no JPEG, PNG, WebP, BMP, TIFF or PNM files in $images" >&2; exit 1; }
"$py" "$root/weights/make_test_weights.py" --arch vgg16 --classes 7 --seed 0 --out "$tmp/w.safetensors"
if [ -n "$count" ]; then
  mkdir "$tmp/images"
  for ((i = 0; i < count; i++)); do
    f=${files[i % ${#files[@]}]}
    cp "$f" "$tmp/images/$(printf '%06d' "$i").${f##*.}"
  done
  images=$tmp/images
fi
if [ -z "${VGGCL_DEVICE:-}" ]; then
  VGGCL_DEVICE=$("$vggcl" devices | awk '$3 == "CPU" { print $1; exit }')
  [ -n "$VGGCL_DEVICE" ] || { echo "mpi_scaling: no CPU device in \`vggcl devices\`; set VGGCL_DEVICE" >&2; exit 1; }
fi
"$vggcl" devices | awk -v d="$VGGCL_DEVICE" '$1 == d { on = 1; print; next } /^[^ ]/ { on = 0 } on' >&2 # (its limits and driver too)
# the images classify takes (not a README beside them: images/s counted it); n: the lines of the first run
mapfile -t listed < <(find -L "$images" -mindepth 1 -maxdepth 1 -type f ! -name '.*' "${formats[@]}" | sort)
n=${#listed[@]}
mkdir "$tmp/warm"
cp "${listed[@]:0:16}" "$tmp/warm/"
# the binding: none (each rank's decoding thread beside its PoCL thread, wherever the kernel puts them), but
# where the options given bind (mpirun refuses two --bind-to)
# a run that failed (exit $1; what failed said it above): the untimed one ends the script; a timed one is left
# out of the rounds after, its row saying so (one failed run lost the runs and rounds before it: an AB_ARGS
# binding mpirun refuses, say); the base's ends the script, as nothing is compared without it
failed() {
  echo "mpi_scaling: $2 failed (exit $1; mpirun's or vggcl's messages above say why: a binding or an option mpirun" \
    "refuses, no network for MPI's start, an unreadable image in $images, ...)" >&2
}
binding() { if [[ " $* " == *" --bind-to "* ]]; then echo; else echo --bind-to none; fi; }
warm=1 # (2 ranks where any run has more: MPI_Init, which one rank skips, tried in seconds, not after the first run)
for r in "${ranks[@]}"; do [ "$r" -gt 1 ] && warm=2; done
# shellcheck disable=SC2086  # MPIRUN_ARGS is a list of options
mpirun -n "$warm" --oversubscribe $(binding "${MPIRUN_ARGS:-}") -x POCL_MAX_PTHREAD_COUNT=1 -x POCL_CPU_MAX_CU_COUNT=1 ${MPIRUN_ARGS:-} \
  "$vggcl" classify --device "$VGGCL_DEVICE" --weights "$tmp/w.safetensors" --batch "$batch" --threads 1 "$tmp/warm" >/dev/null ||
  { failed $? "the untimed run"; exit 1; }
table() { # the table of the rounds so far
  echo "$n images, batch $batch, best of $1 round$([ "$1" = 1 ] || echo s), $(nproc) cores$ab_note"
  echo
  echo "| ranks | seconds | images/s | speed-up | of linear | median round's speed-up |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
  local b=${ranks[0]} key
  for key in "${runs[@]}"; do
    if [ -z "${best[$key]:-}" ] || [ -z "${best[$b]:-}" ]; then # (failed, or not reached where the run was cut)
      echo "| $key | ${failures[$key]:-not run} | | | | |"
      continue
    fi
    awk -v key="$key" -v r="${key%\'}" -v b="$b" -v s="${best[$key]}" -v s0="${best[$b]}" -v n="$n" -v ts="${secs[$key]}" \
      -v t0="${secs[$b]}" -v note="${failures[$key]:+ (then ${failures[$key]})}" '
      BEGIN {
        k = split(ts, t, " "); split(t0, u, " ")
        for (i = 1; i <= k; i++) q[i] = u[i] / t[i]
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (q[j] < q[i]) { x = q[i]; q[i] = q[j]; q[j] = x }
        m = k % 2 ? q[(k + 1) / 2] : (q[k / 2] + q[k / 2 + 1]) / 2
        printf "| %s%s | %.2f | %.2f | %.2fx | %.2f | %.2fx (%.2f of linear) |\n", key, note, s, n / s, s0 / s, s0 / s * b / r, m,
          m * b / r
      }'
  done
}
declare -A best secs failures # secs[r]: the rounds' seconds, space-separated; failures[r]: "failed in round N (exit E)"
status=0
for ((round = 1; round <= rounds; round++)); do
  for key in "${runs[@]}"; do
    [ -n "${failures[$key]:-}" ] && continue
    r=${key%\'} f=${key/\'/ab} ab=() # (f: its files' name)
    if [ "$key" != "$r" ]; then read -r -a ab <<<"$AB_ARGS"; fi
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086  # MPIRUN_ARGS is a list of options
    mpirun -n "$r" --oversubscribe $(binding "${MPIRUN_ARGS:-} ${ab[*]}") -x POCL_MAX_PTHREAD_COUNT=1 -x POCL_CPU_MAX_CU_COUNT=1 \
      -x VGGCL_RANK_TIMES=1 ${MPIRUN_ARGS:-} "${ab[@]}" "$vggcl" classify --device "$VGGCL_DEVICE" \
      --weights "$tmp/w.safetensors" --batch "$batch" --threads 1 --logits-out "$tmp/l$f.npy" "$images" >"$tmp/out$f.txt" ||
      {
        rc=$?
        failed $rc "round $round's run of $key ranks"
        failures[$key]="failed in round $round (exit $rc)" status=1
        [ "$key" = "${ranks[0]}" ] && { table "$round"; exit 1; }
        continue
      }
    s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
    n=$(wc -l <"$tmp/out$f.txt") # (what classify took: a link, a hidden file, as vggcl lists them)
    echo "round $round: $key ranks $s s" >&2
    if ! cmp -s "$tmp/l$f.npy" "$tmp/l${ranks[0]}.npy" || ! cmp -s "$tmp/out$f.txt" "$tmp/out${ranks[0]}.txt"; then
      echo "mpi_scaling: $key ranks gave other answers than ${ranks[0]}" >&2
      exit 1
    fi
    secs[$key]="${secs[$key]:-} $s"
    if [ -z "${best[$key]:-}" ] || awk -v a="$s" -v b="${best[$key]}" 'BEGIN { exit !(a < b) }'; then best[$key]=$s; fi
  done
  table "$round"
  echo
done
exit $status
