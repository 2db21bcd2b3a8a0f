# CMake toolchain file: 64-bit Windows programs with MinGW-w64 from Linux
# (Debian: gcc-mingw-w64-x86-64), for libipc installed with
# `cargo xtask install --target x86_64-pc-windows-gnu`. Run them with Wine.
#
#   cmake -S examples/c -B build-win \
#     -DCMAKE_TOOLCHAIN_FILE=ffi/cmake/toolchains/mingw-w64-x86_64.cmake \
#     -DCMAKE_PREFIX_PATH=/path/to/windows/prefix
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
# Programs from the build machine, libraries and packages from the target's
# sysroot or from CMAKE_PREFIX_PATH (searched in both modes).
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
