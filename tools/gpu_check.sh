#!/bin/bash
# The checks and the benchmark for an OpenCL GPU, in one go, under a time
# budget (issue #9): the device and its limits, the device-vs-reference suites,
# PyTorch parity on torchvision's models, vggcl against PyTorch + cuDNN on the
# same GPU (tools/bench_vs_torch.py --torch-device cuda, TF32 off,
# cudnn.benchmark on) at batch 1, 8 and 32 before and after `vggcl tune`, the
# per-layer profile with each layer's share of the fp32 peak, and a scan of
# the GPU-shaped Winograd's block shapes over every layer.
#
#   tools/gpu_check.sh BIN_DIR OUT_DIR [SECONDS] [PEAK_GFLOPS] [STEPS]
#
# BIN_DIR holds vggcl and the test_* binaries (tools/gpu_bundle.sh makes one,
# with a lib/ of the shared libraries a bare machine may lack, which this
# script puts on the library path); VGGCL_DEVICE picks the device (default:
# the first GPU). Where OCL_ICD_VENDORS is unset and NVIDIA's OpenCL library
# is there, only NVIDIA's ICD is listed (such machines may have PoCL too).
# PEAK_GFLOPS is the device's fp32 peak (default 67000, the H200's). STEPS is
# a comma list of devices, suites, bench, profile, scan, tune, tuned, parity,
# bigbatch, images, mpi (default: all but scan, bigbatch, images and mpi; run
# in that order, the short correctness check before the long measurements).
# bigbatch: a trunk of 64, 128 and 512 channels at batch 160
# and 32x32 on the GPU against the reference (GAP's and the pools' N x C
# rows, 81920, pass 65535, CUDA's limit on a grid's y and z: vggcl__enqueue
# makes such a launch as several through the global offset; the suites'
# cases of that size ran on PoCL only). images
# (issue #12): `vggcl bench --images` on 2048 JPEGs (BIN_DIR/images repeated)
# at batch 32 and 8 with 16 and 8 decoding threads, each beside `vggcl bench`
# at its batch, then 512 photos of 4032x3024 at batch 32 decoded whole and
# with --draft; mpi: tools/mpi_scaling.sh with BIN_DIR/vggcl-mpi, 1, 2, 4 and
# 8 ranks of one PoCL thread on the CPU, 512 JPEGs, two rounds, mpirun --mca
# pml ob1, PoCL's ICD alone (both need `tools/gpu_bundle.sh --mpi`; e.g.
# STEPS=devices,images,mpi with SECONDS 480). Without a GPU listed, the steps
# that need one are skipped (mpi still runs: a rehearsal on PoCL);
# GPU_CHECK_REHEARSE=1 runs every step named all the same, on the default
# device (the script tried out on PoCL, e.g. STEPS=images,bigbatch with
# GPU_CHECK_IMAGES=64; the PyTorch steps need CUDA).
# Everything is logged to OUT_DIR/gpu_check.log (each run headed by its date,
# arguments and variables), and each step's figures (lines with images/s,
# table rows, errors; a failed step's last lines) also go to standard output;
# it exits 1 where a step failed (one cut at its time limit is said apart,
# not a failure), naming them at the end; the
# tuning table is copied to OUT_DIR; nothing else is written there (the
# device tool brings back 8 files at most): caches and images go to a
# temporary folder. GPU_CHECK_SUITES names the suites (default: winograd
# network conv pool gap dense cam), GPU_CHECK_TUNE_BUDGET the tuner's seconds
# (default 200), GPU_CHECK_IMAGES the images of the images step (2048) and
# GPU_CHECK_PHOTOS its large photos (512),
# GPU_CHECK_MPI the mpi step's ranks, rounds and images (1,2,4,8 2 512);
# MPIRUN_ARGS and AB_ARGS go on to tools/mpi_scaling.sh (AB_ARGS="-x
# VGGCL_HUGE_PAGES=1": each round also runs the most ranks with the
# huge-page advice); each run's VGGCL_RANK_TIMES rows are in the log alone.
set -u
if [ $# -lt 2 ] || [ $# -gt 5 ]; then # (it said "$1: unbound variable")
  echo "usage: tools/gpu_check.sh BIN_DIR OUT_DIR [SECONDS] [PEAK_GFLOPS] [STEPS]" >&2
  exit 2
fi
bin=$(cd "$1" 2>/dev/null && pwd)
out=$2
budget=${3:-540}
peak=${4:-67000}
steps=,${5:-devices,suites,bench,profile,tune,tuned,parity},
# (a bundle left out of the device tool's carry, or made without --mpi: said before any step, as the
# steps would fail one by one, or skip, and the machine's time be spent)
if [ -z "$bin" ] || [ ! -x "$bin/vggcl" ]; then
  echo "gpu_check: no $1/vggcl (tools/gpu_bundle.sh makes it)" >&2
  exit 2
fi
for s in images mpi; do
  need=$1/images
  [ $s = mpi ] && need="$need and $1/vggcl-mpi"
  if [[ $steps == *,$s,* ]] && { [ ! -d "$bin/images" ] || { [ $s = mpi ] && [ ! -x "$bin/vggcl-mpi" ]; }; }; then
    echo "gpu_check: the $s step needs $need: make the bundle with tools/gpu_bundle.sh --mpi" >&2
    exit 2
  fi
done
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/gpu_check.log
end=$((SECONDS + budget))
work=$(mktemp -d) # (caches, ICD lists, images: out of OUT_DIR, which holds the log and the table alone)
trap 'rm -rf "$work"' EXIT
# a Ctrl-C or kill of the script stops the step under way (timeout passes it on to the step's processes, and
# kills them 10 s later if they are still there), then the script ends by the signal, as it would have ended
# (a shell loop around it stops on a Ctrl-C). A step just begun: its timeout's pid awaited (a signal then found
# none, and the step ran to its limit). The probes outside steps (vggcl devices, the photos) end within 60 s.
step_pipe=
stop_step() {
  # (a step's pipeline is the script's one background job: asked of the shell, not of step_pipe, which a signal
  # between the pipeline's start and that assignment found empty, the step then waited for to its limit)
  if [ -n "$step_pipe" ] || [ -n "$(jobs -pr)" ]; then
    while [ ! -s "$work/step.pid" ] && [ -n "$(jobs -pr)" ]; do sleep 0.05; done
    [ -s "$work/step.pid" ] && kill -TERM "$(cat "$work/step.pid")" 2>/dev/null
  fi
  wait
  rm -rf "$work"
  trap - EXIT "$1"
  kill -s "$1" $$
}
trap 'stop_step INT' INT
trap 'stop_step TERM' TERM
trap 'stop_step HUP' HUP
chmod 700 "$work"
export VGGCL_CACHE_DIR=${VGGCL_CACHE_DIR:-$work/cache}
# (PoCL lists no device where it cannot write its kernel cache, ~/.cache/pocl: a HOME not writable, say)
if [ -z "${POCL_CACHE_DIR:-}" ] && [ -n "${HOME:-}" ] &&
  ! { mkdir -p "$HOME/.cache/pocl" && [ -w "$HOME/.cache/pocl" ]; } 2>/dev/null; then
  export POCL_CACHE_DIR=$work/pocl
  mkdir -p "$POCL_CACHE_DIR"
fi
export PYTHONUNBUFFERED=1
# a Python with numpy (and PIL) for the steps that make and compare arrays and images: the first python3 on
# the PATH, else Debian's (a pyenv python3 first on the PATH, without numpy, failed bigbatch in 0 s); the
# PyTorch steps take the PATH's python3, whose torch has CUDA where a GPU machine has one
npy=python3
for mods in "numpy, PIL" numpy; do # (the first with PIL, else the first with numpy alone)
  for p in python3 /usr/bin/python3; do
    "$p" -c "import $mods" 2>/dev/null && npy=$p && break 2
  done
done
[ -d "$bin/lib" ] && export LD_LIBRARY_PATH=$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
user_icds=${OCL_ICD_VENDORS:-} # (a folder the user named: PoCL's ICD is looked for there first)
[ -d "$user_icds" ] || user_icds=
if [ -z "${OCL_ICD_VENDORS:-}" ]; then
  ldc=$(command -v ldconfig || echo /sbin/ldconfig)
  # (the 64-bit library: a 32-bit one beside it would leave the loader with no platform)
  nvcl=$("$ldc" -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1 .*x86-64/ { print $NF; exit }')
  [ -n "$nvcl" ] || nvcl=$(find /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/local/nvidia /usr/lib /usr/lib64 \
    -name libnvidia-opencl.so.1 2>/dev/null | head -1)
  if [ -n "$nvcl" ]; then
    mkdir -p "$work/icd"
    echo "$nvcl" >"$work/icd/nvidia.icd"
    export OCL_ICD_VENDORS=$work/icd
  fi
fi
# PoCL's ICD alone, for the MPI step's ranks (NVIDIA's driver would start in each): its ICD file where
# the system or /usr/local keeps them, else one written for the libpocl the linker knows; none: no mpi step
pocl_icd=
for d in ${user_icds:+"$user_icds"} /etc/OpenCL/vendors /usr/local/etc/OpenCL/vendors; do
  if [ -z "$pocl_icd" ] && ls "$d"/*pocl*.icd >/dev/null 2>&1; then
    mkdir -p "$work/icd-pocl"
    cp "$d"/*pocl*.icd "$work/icd-pocl/"
    pocl_icd=$work/icd-pocl
  fi
done
if [ -z "$pocl_icd" ]; then
  lib=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p 2>/dev/null | awk '/libpocl\.so(\.[0-9]+)* .*x86-64/ { print $NF; exit }')
  if [ -n "$lib" ]; then
    mkdir -p "$work/icd-pocl"
    echo "$lib" >"$work/icd-pocl/pocl.icd"
    pocl_icd=$work/icd-pocl
  fi
fi
# (each run's heading: an OUT_DIR used again appended to its log unmarked; what the variables were, for the rows)
echo "== gpu_check $(date -u '+%Y-%m-%d %H:%M:%S UTC'): $* (BATCH=${BATCH:-} GPU_CHECK_MPI=${GPU_CHECK_MPI:-}" \
  "AB_ARGS=${AB_ARGS:-} MPIRUN_ARGS=${MPIRUN_ARGS:-} VGGCL_DEVICE=${VGGCL_DEVICE:-})" | tee -a "$log"
[ -f "$bin/VERSION" ] && echo "== bundle $(cat "$bin/VERSION")" | tee -a "$log"
"$npy" -c 'import numpy' 2>/dev/null ||
  echo "== no python3 with numpy (python3, /usr/bin/python3): the steps that make arrays will fail" | tee -a "$log"
step_rc=0
failed_steps= # (the steps that failed: said at the end, and the script's status)
cut_steps=    # (the steps cut at their limit: said at the end)
step() { # step NAME MAX_SECONDS CMD...: runs CMD if time is left, logs it, shows its figures (step_rc: its status)
  local name=$1 max=$2 left=$((end - SECONDS)) rc
  shift 2
  step_rc=skipped
  if [ "$left" -lt 15 ]; then echo "== $name: skipped (out of time)" | tee -a "$log"; return; fi
  [ "$max" -gt "$left" ] && max=$left
  echo "== $name (limit ${max}s)" | tee -a "$log"
  local t0=$SECONDS
  # (in the log as it comes: a cut run keeps it). In the background, waited for: a signal to the script is then
  # acted on at once (stop_step), where bash waiting on a pipeline acts on it only once the step ends; and the
  # step, in timeout's own process group, got no Ctrl-C or kill of the script, and ran on after it
  # (the pid file written whole, by a rename: a signal read it empty)
  { timeout -k 10 "$max" "$@" 2>&1 & echo $! >"$work/step.pid.new" && mv "$work/step.pid.new" "$work/step.pid"
    wait $!; echo $? >"$work/step.rc"; } | tee -a "$log" >"$work/step.txt" &
  step_pipe=$!
  wait $step_pipe
  step_pipe=
  rc=$(cat "$work/step.rc" 2>/dev/null || echo 1)
  rm -f "$work/step.pid" "$work/step.rc"
  step_rc=$rc
  # (VGGCL_RANK_TIMES's rows, a table per MPI run, are in the log alone)
  grep -E 'images/s|GFLOP/s|^\||^round |x of the smaller|rel(ative)? L2|[Ee]rror|FAIL|vggcl:|mpi_scaling:|GPU|CPU' \
    "$work/step.txt" | grep -vE '^vggcl: +[0-9]+  [^ ]|^vggcl:  rank  machine |\(VGGCL_RANK_TIMES\)' | head -40
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then # (cut at its limit: the time given, what it measured kept)
    cut_steps="$cut_steps $name;"
  elif [ "$rc" != 0 ]; then # (why, on standard output, which is what the device tool brings back: mpirun's words)
    echo "-- its last lines:"
    tail -n 15 "$work/step.txt"
    failed_steps="$failed_steps $name (exit $rc);"
  fi
  echo "== $name: exit $rc in $((SECONDS - t0))s" | tee -a "$log"
}
want() { [[ $steps == *,$1,* ]]; }
was_cut() { [ "$step_rc" = 124 ] || [ "$step_rc" = 137 ] || [ "$step_rc" = skipped ]; } # (the last step did not end itself)
bench_torch() { # bench_torch LABEL
  step "bench vs PyTorch ($1)" 180 python3 tools/bench_vs_torch.py "$bin/vggcl" --torch-device cuda \
    --batches 1 8 32 --iters 10 --rounds 2
}
profile() { # profile LABEL BATCH...
  local label=$1 b
  shift
  for b in "$@"; do
    step "bench per layer, batch $b, $label" 40 "$bin/vggcl" bench --random --batch "$b" --iters 5 --per-layer \
      --peak-gflops "$peak"
  done
}
# VGG16's conv shapes at 224x224: C_in C_out side
shapes="3,64,224 64,64,224 64,128,112 128,128,112 128,256,56 256,256,56 256,512,28 512,512,28 512,512,14"
scan() { # each block shape of winograd-gpu on every layer, through tuning rows in a cache
  # folder of its own (the user's table in VGGCL_CACHE_DIR is left as it is)
  # (the compiled programs are copied in, so the scan does not compile them again)
  local table cfg b s
  local outer=$VGGCL_CACHE_DIR # (the user's, before the local one below hides it)
  local VGGCL_CACHE_DIR=$work/scan-cache
  export VGGCL_CACHE_DIR
  mkdir -p "$VGGCL_CACHE_DIR"
  chmod 700 "$VGGCL_CACHE_DIR"
  find "$outer" -maxdepth 1 -name '*.bin' -exec cp -p {} "$VGGCL_CACHE_DIR"/ \; 2>/dev/null
  step "tuning table path" 60 "$bin/vggcl" tune --random --batch 1 --budget 0
  table=$(find "$VGGCL_CACHE_DIR" -maxdepth 1 -name '*.tune' | sort | head -1)
  if [ -z "$table" ]; then
    echo "== scan: no tuning table in $VGGCL_CACHE_DIR" | tee -a "$log"
    rm -rf "$VGGCL_CACHE_DIR"
    return
  fi
  for cfg in "MWG=64 NWG=64 KWG=16 MDIMC=16 NDIMC=16" "MWG=128 NWG=128 KWG=16 MDIMC=16 NDIMC=16" \
    "MWG=128 NWG=64 KWG=16 MDIMC=16 NDIMC=16" "MWG=64 NWG=128 KWG=16 MDIMC=16 NDIMC=16" \
    "MWG=128 NWG=128 KWG=8 MDIMC=16 NDIMC=16" "MWG=64 NWG=64 KWG=32 MDIMC=16 NDIMC=16" \
    "MWG=32 NWG=64 KWG=16 MDIMC=8 NDIMC=16" "MWG=64 NWG=64 KWG=16 MDIMC=16 NDIMC=8"; do
    : >"$table"
    for b in 1 8 32; do
      for s in $shapes; do
        IFS=, read -r ci co h <<<"$s"
        echo "conv $ci $co $h $h $b winograd-gpu 0 $cfg VWM=4 VWN=4" >>"$table"
      done
    done
    echo "== scan: $cfg" | tee -a "$log"
    profile "scan" 1 32
  done
  rm -rf "$VGGCL_CACHE_DIR"
}
images() { # the real job on a folder beside the network alone (issue #12)
  local dir=$work/images n=${GPU_CHECK_IMAGES:-2048} b t i=0 f name
  mkdir -p "$dir"
  while [ $i -lt "$n" ]; do
    for f in "$bin"/images/*.jpg; do
      printf -v name %05d.jpg $i
      [ $i -lt "$n" ] && { ln "$f" "$dir/$name" 2>/dev/null || cp "$f" "$dir/$name"; }
      i=$((i + 1))
    done
  done
  # (a run takes seconds on the GPU: one that hangs, or a driver that does, ends the group, so the mpi step,
  # which needs no GPU, keeps its time)
  for b in 32 8; do
    for t in 16 8; do
      # (the first at 60 s: it compiles the kernels at 224x224, which bigbatch's 32x32 run did not)
      step "bench --images, batch $b, $t decoding threads" $((b == 32 && t == 16 ? 60 : 40)) "$bin/vggcl" bench \
        --images "$dir" --batch "$b" --threads "$t"
      was_cut && break 2
      step "bench, batch $b" 40 "$bin/vggcl" bench --random --batch "$b" --iters 20
      was_cut && break 2
    done
  done
  if was_cut; then
    echo "== images: a run was cut at its limit or out of time; the rest of the images step is left out" |
      tee -a "$log"
    rm -rf "$dir"
    return
  fi
  rm -rf "$dir"
  # phone-sized photos (4032x3024, the bundle's JPEGs enlarged there), whole and with --draft: what
  # decoding costs where the photos are much larger than the input
  mkdir -p "$dir"
  local photos=${GPU_CHECK_PHOTOS:-512}
  if [ $((end - SECONDS)) -lt 90 ]; then
    echo "== images: no time left for the large photos" | tee -a "$log"
  elif timeout -k 5 60 "$npy" - "$bin/images" "$dir" "$photos" <<'PY' >>"$log" 2>&1; then
import sys, glob, os, shutil
import numpy as np
from PIL import Image
n = int(sys.argv[3])
src = sorted(glob.glob(sys.argv[1] + "/*.jpg"))[:min(16, n)]
rng = np.random.default_rng(0)
for i, f in enumerate(src):  # enlarged, with a photo's grain (a smooth enlargement decodes far faster)
    big = np.asarray(Image.open(f).convert("RGB").resize((4032, 3024), Image.BILINEAR), np.int16)
    big = np.clip(big + rng.normal(0, 6, big.shape), 0, 255).astype(np.uint8)
    Image.fromarray(big).save(f"{sys.argv[2]}/big{i:02d}.jpg", quality=90)
for k in range(len(src), n):  # the first ones repeated, as links (else copies)
    a, b = f"{sys.argv[2]}/big{k % len(src):02d}.jpg", f"{sys.argv[2]}/big{k:03d}x.jpg"
    try:
        os.link(a, b)
    except OSError:
        shutil.copy(a, b)
PY
    for d in "" --draft; do
      step "bench --images, $photos photos of 4032x3024, batch 32, 16 decoding threads ${d:-(whole decode)}" 60 \
        "$bin/vggcl" bench --images "$dir" --batch 32 --threads 16 $d
      was_cut && break
    done
  else
    echo "== images: the large photos could not be made (python3 with PIL)" | tee -a "$log"
  fi
  rm -rf "$dir"
}
cd "$root" || exit 1
if want devices; then
  # (and what the tables' captions in docs/ name: the CPU, its threads per core, the system, Open MPI, PoCL's devices)
  step "devices and limits" 30 sh -c "ls /etc/OpenCL/vendors; echo OCL_ICD_VENDORS=\${OCL_ICD_VENDORS:-}; \
cat \${OCL_ICD_VENDORS:-/dev/null}/*.icd 2>/dev/null; ls /usr/local/nvidia/lib64 2>/dev/null | grep -i opencl; \
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,persistence_mode --format=csv; \"$bin/vggcl\" devices; \
lscpu | grep -E '^(Model name|Thread|Core|Socket|CPU\\(s\\))'; head -2 /etc/os-release; \
mpirun --version 2>/dev/null | head -1; command -v mpirun; \
ldd \"$bin/vggcl-mpi\" 2>/dev/null | grep -E 'libmpi|libopen-'; echo 'PoCL alone (the mpi step): ${pocl_icd:-none found}'; \
if [ -n '$pocl_icd' ]; then OCL_ICD_VENDORS='$pocl_icd' \"$bin/vggcl\" devices; fi"
fi
if [ "${GPU_CHECK_REHEARSE:-0}" != 0 ]; then # (every step on the default device: the script itself, tried out here)
  echo "== rehearsal: every step named runs on the default device, GPU or not" | tee -a "$log"
elif ! timeout -k 5 60 "$bin/vggcl" devices 2>/dev/null | grep -q ' GPU '; then
  echo "== no GPU listed (OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-}): only the steps that need none (mpi)" | tee -a "$log"
  keep=,
  for s in ${steps//,/ }; do
    case $s in suites | bench | profile | scan | tune | tuned | parity | images | bigbatch) ;; *) keep=$keep$s, ;; esac
  done
  steps=$keep
fi
if want suites; then
  for s in ${GPU_CHECK_SUITES:-winograd network conv pool gap dense cam}; do
    step "suite $s" 60 "$bin/test_$s"
  done
fi
want bench && bench_torch "defaults, no table"
want profile && profile "defaults" 1 8 32
want scan && scan
if want tune; then
  tb=${GPU_CHECK_TUNE_BUDGET:-200}
  step "tune (batch 1, 8, 32; $tb s budget)" $((tb + 30)) "$bin/vggcl" tune --random --batch 1,8,32 --budget "$tb"
  cp "$VGGCL_CACHE_DIR"/*.tune "$out"/ 2>/dev/null
fi
want tuned && bench_torch "tuned" && profile "tuned" 1 8 32
want parity && step "parity with PyTorch" 150 python3 tests/parity_torch.py "$bin/vggcl"
# (a short correctness check, before the long measurements take the time left)
if want bigbatch; then
  step "batch 160 at 32x32 against the reference (launches of N x C = 81920 rows)" 150 sh -c "\
'$npy' weights/make_test_weights.py --cfg 64,M,128,M,512 --classes 7 --out '$work/v16.safetensors' >/dev/null && \
'$npy' -c 'import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(0).standard_normal((160, 3, 32, 32)).astype(np.float32))' '$work/x.npy' && \
'$bin/vggcl' run --weights '$work/v16.safetensors' --input '$work/x.npy' --output '$work/gpu.npy' && \
'$bin/vggcl' run --device ref --weights '$work/v16.safetensors' --input '$work/x.npy' --output '$work/ref.npy' && \
'$npy' -c 'import numpy as np, sys; g, r = np.load(sys.argv[1]), np.load(sys.argv[2]); \
e = np.linalg.norm(g - r) / np.linalg.norm(r); print(\"batch 160: rel L2 %.3g against the reference%s\" % (e, \"\" if e < 1e-4 else \" FAIL\")); \
sys.exit(not e < 1e-4)' '$work/gpu.npy' '$work/ref.npy'"
fi
want images && images
# (PoCL's ranks: PoCL's ICD alone, else the machine's list; pml ob1 as docs/folders.md advises on one machine:
# Open MPI's UCX probe took 0.2 s of MPI_Init on the Xeon; no single-copy transport, which containers may
# not allow (process_vm_readv); hwloc not probing the GPU in every rank)
read -r mpi_ranks mpi_rounds mpi_images <<<"${GPU_CHECK_MPI:-1,2,4,8 2 512}"
if [ -n "$pocl_icd" ]; then mpi_env=(env OCL_ICD_VENDORS="$pocl_icd"); fi
if want mpi; then
  # (a step that cannot start fails the script, as one that fails does: the mpi step is a GPU run's whole point
  # where it is asked for, and its exit status 0 said it ran)
  if [ -z "$pocl_icd" ]; then # (every vendor's ICD would start NVIDIA's driver in each rank: another measurement)
    echo "== mpi: no PoCL ICD (/etc/OpenCL/vendors, /usr/local/etc/OpenCL/vendors, libpocl in ldconfig -p)" | tee -a "$log"
    failed_steps="$failed_steps mpi (not run: no PoCL ICD);"
  elif ! command -v mpirun >/dev/null; then
    echo "== mpi: no mpirun on this machine (vggcl-mpi needs the machine's Open MPI)" | tee -a "$log"
    failed_steps="$failed_steps mpi (not run: no mpirun);"
  elif miss=$(ldd "$bin/vggcl-mpi" | grep 'not found'); then
    echo "== mpi: vggcl-mpi lacks libraries: $miss" | tee -a "$log"
    failed_steps="$failed_steps mpi (not run: libraries missing);"
  else
    if ! command -v ssh >/dev/null && ! command -v rsh >/dev/null; then # (Open MPI 4 refuses to start without
      export OMPI_MCA_plm=isolated                                     # one, even on one machine)
      echo "== mpi: no ssh or rsh here: mpirun with plm isolated (one machine)" | tee -a "$log"
    fi
    step "MPI scaling, PoCL ranks" $((end - SECONDS)) "${mpi_env[@]}" HWLOC_COMPONENTS=-cuda,-nvml,-opencl \
      MPIRUN_ARGS="--mca pml ob1 --mca btl_vader_single_copy_mechanism none --mca btl_vader_backing_directory /tmp \
${MPIRUN_ARGS:-}" \
      tools/mpi_scaling.sh "$bin/vggcl-mpi" "$bin/images" "$mpi_ranks" "$mpi_rounds" "$mpi_images"
  fi
fi
echo "== done in ${SECONDS}s" | tee -a "$log"
[ -n "$cut_steps" ] && echo "== cut at their limit:$cut_steps" | tee -a "$log"
if [ -n "$failed_steps" ]; then
  echo "== failed:$failed_steps" | tee -a "$log"
  exit 1
fi
