# Installs tapegrad.pc (and tapegrad-distributed.pc with MPI) for builds that use pkg-config:
#   g++ main.cpp $(pkg-config --cflags --libs tapegrad)
# The dependencies that ship .pc files are named in Requires; oneDNN and libgomp ship none, so they are
# plain -l flags. A static libtapegrad.a needs its private dependencies on every link, so they go in the
# public fields then (pkg-config --libs without --static reads only those).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  message(FATAL_ERROR "pkgconfig.cmake: CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_INCLUDEDIR must be relative "
                      "to the prefix (got '${CMAKE_INSTALL_LIBDIR}', '${CMAKE_INSTALL_INCLUDEDIR}')")
endif()
file(RELATIVE_PATH TAPEGRAD_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" TAPEGRAD_PC_TO_PREFIX "${TAPEGRAD_PC_TO_PREFIX}")
set(private_requires "fmt libzip zlib openblas")
set(private_libs "-ldnnl -lgomp")
get_target_property(tapegrad_type tapegrad TYPE)
if(tapegrad_type STREQUAL "STATIC_LIBRARY")
  set(TAPEGRAD_PC_REQUIRES "xtl xsimd xtensor ${private_requires}")
  set(TAPEGRAD_PC_LIBS "${private_libs}")
  set(TAPEGRAD_PC_REQUIRES_PRIVATE "")
  set(TAPEGRAD_PC_LIBS_PRIVATE "")
else()
  set(TAPEGRAD_PC_REQUIRES "xtl xsimd xtensor")
  set(TAPEGRAD_PC_LIBS "")
  set(TAPEGRAD_PC_REQUIRES_PRIVATE "${private_requires}")
  set(TAPEGRAD_PC_LIBS_PRIVATE "${private_libs}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/tapegrad.pc.in ${CMAKE_CURRENT_BINARY_DIR}/tapegrad.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tapegrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(TARGET tapegrad_distributed)
  # mpi-cxx.pc: Debian's alternative for the MPI in use (Open MPI's ompi-cxx.pc, or MPICH's): mpi.h brings
  # Open MPI's C++ bindings into the objects, so they link libmpi_cxx too.
  get_target_property(distributed_type tapegrad_distributed TYPE)
  if(distributed_type STREQUAL "STATIC_LIBRARY")
    set(TAPEGRAD_PC_MPI_REQUIRES "mpi-cxx")
    set(TAPEGRAD_PC_MPI_REQUIRES_PRIVATE "")
  else()
    set(TAPEGRAD_PC_MPI_REQUIRES "")
    set(TAPEGRAD_PC_MPI_REQUIRES_PRIVATE "mpi-cxx")
  endif()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/tapegrad-distributed.pc.in
                 ${CMAKE_CURRENT_BINARY_DIR}/tapegrad-distributed.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tapegrad-distributed.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
