#!/usr/bin/env bash
# The .deb stage of `./setup.sh test`: builds tapegrad_<version>_<arch>.deb with cpack from a configured
# build directory, checks its files and Depends, then builds consumer/ against the unpacked package
# (dpkg-deb -x into a temporary root) with find_package and with pkg-config, and runs both programs.
# usage: tests/packaging/check_deb.sh [BUILD_DIR]      (default: build; build it first: cpack installs from it, and
# by default builds every target of the tree before that, which is quick only when they are up to date)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "${1:-build}" && pwd)
fail() {
  echo "check_deb: $*" >&2
  exit 1
}

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
deb=$build/tapegrad_${version}_$(dpkg --print-architecture).deb
rm -f "$deb"
(cd "$build" && cpack -G DEB >/dev/null) || fail "cpack -G DEB failed in $build"
[ -f "$deb" ] || fail "cpack did not write $deb"
echo "built $deb ($(du -h "$deb" | cut -f1))"

# The files: all under /usr; headers, the library, the CMake package and the pkg-config file; no internals.
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$')
outside=$(grep -v '^/usr\(/\|$\)' <<<"$files" || true)
[ -z "$outside" ] || fail "files outside /usr: $outside"
for f in /usr/include/tapegrad/tapegrad.hpp /usr/include/tapegrad/autograd/variable.hpp /usr/lib/libtapegrad.a \
  /usr/lib/cmake/tapegrad/tapegradConfig.cmake /usr/lib/cmake/tapegrad/tapegradConfigVersion.cmake \
  /usr/lib/cmake/tapegrad/tapegradTargets.cmake /usr/lib/pkgconfig/tapegrad.pc; do
  grep -qx "$f" <<<"$files" || fail "the package lacks $f"
done
internal=$(grep '/detail\(/\|$\)' <<<"$files" || true)
[ -z "$internal" ] || fail "internal headers are packaged: $internal"
echo "files: $(grep -c '\.hpp$' <<<"$files") headers, $(grep -c '\.a$' <<<"$files") static libraries," \
  "$(grep -c '\.cmake$' <<<"$files") CMake files, $(grep -c '\.pc$' <<<"$files") pkg-config files; all under /usr"

# Depends: what a consumer needs to compile and link (each -dev package pulls its runtime library).
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in libxtensor-dev libxsimd-dev xtl-dev libopenblas-dev libdnnl-dev libfmt-dev libzip-dev zlib1g-dev; do
  grep -qE "(^|, )$d( |,|$)" <<<"$depends" || fail "Depends lacks $d"
done

# Unpacked into a temporary root: nothing may point back at this machine's build tree.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/root"
leaks=$(grep -rlE "$PWD|$build|-march" "$tmp/root/usr/lib/cmake" "$tmp/root/usr/lib/pkgconfig" || true)
[ -z "$leaks" ] || fail "package files name the build tree or -march: $leaks"

# With MPI here and in the package, the distributed component too (one process: no mpirun needed).
distributed=0
if grep -q 'tapegradDistributedTargets.cmake$' <<<"$files" && command -v mpicxx >/dev/null; then distributed=1; fi
cmake -S consumer -B "$tmp/cmake" -Dtapegrad_DIR="$tmp/root/usr/lib/cmake/tapegrad" \
  -DTAPEGRAD_CONSUMER_DISTRIBUTED=$([ $distributed = 1 ] && echo ON || echo OFF) >/dev/null
cmake --build "$tmp/cmake" >/dev/null
"$tmp/cmake/consumer"
if [ $distributed = 1 ]; then "$tmp/cmake/consumer_distributed"; fi
# ${pcfiledir} makes the .pc relocatable: the flags must point into the unpacked root.
export PKG_CONFIG_PATH="$tmp/root/usr/lib/pkgconfig"
pkg-config --cflags tapegrad | grep -q -- "-I$tmp/root/" || fail "pkg-config --cflags does not point into the root"
# shellcheck disable=SC2046  # the flags are words
g++ -std=c++17 -O1 consumer/main.cpp -o "$tmp/consumer_pc" $(pkg-config --cflags --libs tapegrad)
"$tmp/consumer_pc" | sed 's/find_package(tapegrad)/pkg-config tapegrad/'
if [ $distributed = 1 ]; then
  # shellcheck disable=SC2046
  g++ -std=c++17 -O1 consumer/main_distributed.cpp -o "$tmp/consumer_distributed_pc" \
    $(pkg-config --cflags --libs tapegrad-distributed)
  "$tmp/consumer_distributed_pc" \
    | sed 's/find_package(tapegrad COMPONENTS distributed)/pkg-config tapegrad-distributed/'
fi
echo "the .deb is complete: consumer/ builds against it with find_package and with pkg-config"
