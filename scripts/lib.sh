# Shared by the scripts in this directory: paths, progress output, pins.
# shellcheck shell=bash

LIN6_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything built or installed outside the repo lives here, so a fresh clone
# on a machine that has built once reuses the kernel and the tools.
LIN6_CACHE=${LIN6_CACHE:-$HOME/.cache/lin6}
LIN6_TOOLS=$LIN6_CACHE/tools
LIN6_VENV=$LIN6_CACHE/venv
BINDGEN_VERSION=0.73.2
VIRTME_NG_VERSION=1.42
KERNEL_PACKAGE=linux-source-6.12
LLVM_SUFFIX=-19
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
export PATH=$LIN6_TOOLS/bin:$LIN6_VENV/bin:$HOME/.cargo/bin:$PATH
# Cargo's build output is cached beside the kernel, so a fresh clone builds
# only our own crates; cargo's fingerprints (rustc version, flags, sources)
# decide what is rebuilt. Set CARGO_TARGET_DIR to keep a clone's builds apart.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LIN6_CACHE/cargo-target}
# A fresh clone's files are all newer than the cached build, so cargo would
# rebuild every crate of the workspace. With LIN6_CLEAN_CLONE=1 (.ci/run sets
# it) files whose content is what the last build here saw get that build's
# mtimes back (scripts/source-mtimes: content decides, not time). Every run
# records what it is about to build, so that a build from a working tree
# into the same target dir is never taken for a clean clone's. Once per
# run: the scripts this one calls inherit LIN6_SOURCES_SETTLED.
if [ -z "${LIN6_SOURCES_SETTLED:-}" ]; then
  restore=()
  [ "${LIN6_CLEAN_CLONE:-0}" = 1 ] && restore=(--restore)
  python3 "$LIN6_ROOT/scripts/source-mtimes" "${restore[@]}" "$LIN6_ROOT" "$CARGO_TARGET_DIR" ||
    printf '    warning: scripts/source-mtimes failed; cargo rebuilds the workspace\n' >&2
  export LIN6_SOURCES_SETTLED=1
fi

# Each step prints how long the one before it took, so a slow CI run shows where.
LIN6_STEP_START=${LIN6_STEP_START:-}
step() {
  local now=$SECONDS
  if [ -n "$LIN6_STEP_START" ]; then
    printf '    (%d s)\n' $((now - LIN6_STEP_START)) >&2
  fi
  LIN6_STEP_START=$now
  printf '\033[1m==> %s\033[0m\n' "$*" >&2
}
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The kernel is built with Debian's rustc (its rust-src matches), never rustup's.
KMAKE_ARGS=(LLVM="$LLVM_SUFFIX" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CLIPPY_DRIVER=/usr/bin/clippy-driver
            BINDGEN="$LIN6_TOOLS/bin/bindgen")
