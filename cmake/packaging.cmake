# cpack -G DEB (or the `package` target): tapegrad_<version>_amd64.deb, the install tree under /usr:
# headers, libtapegrad.a, the CMake package config and the pkg-config files (and the distributed
# component when the build has MPI). Depends lists what a consumer needs to compile and link against it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tapegrad)
set(CPACK_PACKAGE_VENDOR tapegrad)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Reverse-mode automatic differentiation for C++17 on xtensor")
set(CPACK_PACKAGE_DESCRIPTION
    "A tape-based autodiff library with neural-network modules, optimizers and checkpoints (.npz, .safetensors). "
    "Use it with find_package(tapegrad) (target tapegrad::tapegrad; COMPONENTS distributed for MPI "
    "data-parallel training) or pkg-config tapegrad.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # tapegrad_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "tapegrad developers <tapegrad@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
# Headers include xtensor and xsimd (xtl through them); the static library links OpenBLAS, oneDNN, {fmt},
# libzip and zlib, each -dev package pulling its runtime library. libgomp comes with g++.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libxtensor-dev (>= 0.24), libxsimd-dev (>= 8), xtl-dev, libopenblas-dev, libdnnl-dev, libfmt-dev, libzip-dev, "
    "zlib1g-dev, g++ | c++-compiler")
string(REPLACE ";" "" CPACK_DEBIAN_PACKAGE_DEPENDS "${CPACK_DEBIAN_PACKAGE_DEPENDS}")
if(TARGET tapegrad_distributed)
  # Only find_package(tapegrad COMPONENTS distributed) / pkg-config tapegrad-distributed need MPI.
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libopenmpi-dev, openmpi-bin")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake, pkg-config")
# The API reference comes with the install rules of docs/CMakeLists.txt (when Doxygen was found).
# Only what `cmake --install` installs; tests, examples and benchmarks install nothing.
include(CPack)
