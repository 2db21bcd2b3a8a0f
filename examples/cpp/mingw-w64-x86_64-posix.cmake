# CMake toolchain file: ffi/cmake/toolchains/mingw-w64-x86_64.cmake, with
# the C++ compiler of MinGW-w64's POSIX threads model. Debian's default
# `x86_64-w64-mingw32-g++` is the win32 model, whose C++ library has no
# std::thread, std::mutex or std::condition_variable (GCC 12); C++ programs
# over ipc.hpp use them.
#
#   cmake -S examples/cpp -B build-win \
#     -DCMAKE_TOOLCHAIN_FILE=examples/cpp/mingw-w64-x86_64-posix.cmake \
#     -DCMAKE_PREFIX_PATH=/path/to/windows/prefix
include("${CMAKE_CURRENT_LIST_DIR}/../../ffi/cmake/toolchains/mingw-w64-x86_64.cmake")
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
