#!/usr/bin/env bash
# Fresh-machine set-up: installs the Debian packages tapegrad needs, builds it, then runs the
# demo (./setup.sh demo) or the whole test suite (./setup.sh test). Run as root, or as a user
# who may use sudo.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-demo}

packages=(build-essential cmake libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev libdnnl-dev doctest-dev
          libfmt-dev zlib1g-dev libzip-dev nlohmann-json3-dev dataset-fashion-mnist
          bible-kjv     # lesson 8's text: the King James Bible (the `bible` program and bible-kjv-text)
          gnuplot-nox)  # the lessons draw their curves as PNG with gnuplot (without it: CSV only)
if [ "$mode" = test ]; then
  # tests also read .npz files written by NumPy, check DOT output with Graphviz, and load every
  # module's state dict into PyTorch and back (strict load_state_dict, .npz and .safetensors)
  packages+=(python3-numpy graphviz python3-torch)
  # reliability: libFuzzer targets are built with clang and its sanitizer runtimes
  packages+=(clang libclang-rt-14-dev)
  # distributed/ and its tests (run through mpirun): Open MPI
  packages+=(libopenmpi-dev openmpi-bin)
  # the tape explorer's pages are tested in headless Chromium, driven from Python (tests/browser/)
  packages+=(chromium chromium-driver python3)
  # every C++ source is checked against .clang-format (tests/lint/check_format.py)
  packages+=(clang-format)
  # the API reference is built with Doxygen and every warning fails it (ctest api_reference)
  packages+=(doxygen)
  # the package stage: consumers built with pkg-config against the staged install and the .deb
  packages+=(pkg-config)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
echo "== building (Release) in build/"
cmake_flags=()
# With Open MPI installed for the tests, build distributed/ even if build/ was configured before.
if [ "$mode" = test ]; then cmake_flags+=(-DTAPEGRAD_MPI=ON); fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${cmake_flags[@]}" >/dev/null
cmake --build build -j"$jobs"

case "$mode" in
  demo)
    # A newcomer's first minute: the test-score lesson (forward pass, gradient check, BFGS,
    # regularisation), then one short epoch of each Fashion-MNIST MLP. Files go to build/demo/.
    ./build/examples/sleep_study --out build/demo
    echo
    ./build/examples/mlp_fashion --nielsen-epochs 1 --epochs 1 --out build/demo
    ;;
  test)
    # The packages above were just installed: a test that finds its tool (Graphviz, NumPy, PyTorch,
    # the data set) missing now fails instead of being reported as skipped.
    export TAPEGRAD_REQUIRE_TOOLS=1
    echo "== running the test suite"
    ctest --test-dir build --output-on-failure -j"$jobs"
    echo "== checking that an outside project can use the installed package"
    rm -rf build/stage build/consumer build/consumer-nompi
    cmake --install build --prefix build/stage >/dev/null
    # find_package(tapegrad) must not look for MPI (it is the distributed component's alone): with
    # MPI hidden from CMake the plain consumer still configures, and asking for the component fails.
    cmake -S consumer -B build/consumer-nompi -DCMAKE_PREFIX_PATH="$PWD/build/stage" \
      -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON --no-warn-unused-cli >/dev/null
    if cmake -S consumer -B build/consumer-nompi -DTAPEGRAD_CONSUMER_DISTRIBUTED=ON >build/consumer-nompi.log 2>&1 \
      || ! grep -q "needs MPI" build/consumer-nompi.log; then
      cat build/consumer-nompi.log
      echo "find_package(tapegrad COMPONENTS distributed) without MPI should fail, saying it needs MPI" >&2
      exit 1
    fi
    cmake -S consumer -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/stage" -DTAPEGRAD_CONSUMER_DISTRIBUTED=ON \
      >/dev/null
    cmake --build build/consumer >/dev/null
    ./build/consumer/consumer
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 \
      ./build/consumer/consumer_distributed
    echo "== the same with pkg-config (tapegrad.pc, relocatable) against the staged install"
    (
      export PKG_CONFIG_PATH="$PWD/build/stage/lib/pkgconfig"
      # shellcheck disable=SC2046  # the flags are words
      g++ -std=c++17 -O1 consumer/main.cpp -o build/consumer/consumer_pc $(pkg-config --cflags --libs tapegrad)
    )
    ./build/consumer/consumer_pc | sed 's/find_package(tapegrad)/pkg-config tapegrad/'
    echo "== packaging: cpack -G DEB, the package's files and Depends, consumer/ built against the unpacked .deb"
    tests/packaging/check_deb.sh build
    echo "== building every C++ block in README.md and docs/ against the installed package (programs are run)"
    python3 tests/docs/run_snippets.py --prefix build/stage --out build/snippets README.md docs/*.md docs/lessons/*.md
    # ---- reliability (issue 7): the whole suite under sanitizers, the threaded tests under
    # ThreadSanitizer (issue 12), then the fuzzers -------------------------------------------------
    # TAPEGRAD_SKIP_RELIABILITY=1 skips this part for a quick local run; CI always runs it.
    if [ "${TAPEGRAD_SKIP_RELIABILITY:-0}" != 1 ]; then
      t=$SECONDS
      echo "== building the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (-O1) in build-asan/"
      cmake -S . -B build-asan -DTAPEGRAD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O1 \
        -DTAPEGRAD_BUILD_EXAMPLES=OFF -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
      cmake --build build-asan -j"$jobs"
      echo "== running the test suite under ASan + UBSan with leak detection (the build took $((SECONDS - t)) s)"
      t=$SECONDS
      # The checks that read only sources (style, docs, the API reference, compile_fail's messages) passed
      # above and are the same in every build: not run again here.
      echo "   (labels style, docs and compile_fail ran in the Release suite above)"
      ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-asan --output-on-failure -j"$jobs" \
        -LE '^(style|docs|compile_fail)$'
      echo "== the ASan run took $((SECONDS - t)) s"
      echo "== building the library and the threaded tests with ThreadSanitizer (GCC, -O1) in build-tsan/"
      t=$SECONDS
      # -g1: line tables only, so a race's stacks still give file and line; full -g nearly doubled the
      # build's compile times (sweep.cpp 10.1 -> 5.5 s with -g1), for variable and type details a report
      # does not print.
      cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
        -DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DTAPEGRAD_MPI=OFF \
        -DTAPEGRAD_BUILD_EXAMPLES=OFF -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
      cmake --build build-tsan -j"$jobs" --target test_threads
      echo "== running the threaded tests under ThreadSanitizer: any race fails (the build took $((SECONDS - t)) s)"
      t=$SECONDS
      TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 OPENBLAS_NUM_THREADS=1 \
        ctest --test-dir build-tsan -L threads --output-on-failure
      echo "== fuzzing the IDX, .npz, .npy and safetensors readers, 20 s per target (the TSan run took $((SECONDS - t)) s)"
      t=$SECONDS
      fuzz/run.sh 20
      echo "== reliability checks passed (fuzzing took $((SECONDS - t)) s)"
    fi
    # ---- end of reliability ------------------------------------------------------------------------
    ;;
  *)
    echo "usage: ./setup.sh [demo|test]" >&2
    exit 2
    ;;
esac
