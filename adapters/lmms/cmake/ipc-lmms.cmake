# ipc-lmms.cmake: defines ipc::lmms, LMMS's remote-plugin API over libipc
# (adapters/lmms). Included by ipcConfig.cmake when the package was
# installed with the adapter (`cargo xtask install`), or straight from the
# source tree (adapters/lmms/CMakeLists.txt).
#
#   find_package(ipc 0.1 CONFIG REQUIRED)
#   target_link_libraries(RemoteZynAddSubFx PRIVATE ipc::lmms)
#
# ipc::lmms is a static library built from the adapter's sources in the
# project that uses it, with that project's compiler (g++, clang, MSVC,
# MinGW, wineg++, -m32 alike) and that project's LMMS headers: set
# IPC_LMMS_TYPES_DIR to the directory holding LmmsTypes.h, SampleFrame.h,
# MidiEvent.h, VstSyncData.h (in LMMS: ${CMAKE_SOURCE_DIR}/include) before
# find_package; left unset, the adapter's small stand-ins are used (and
# ipc::lmms_standalone adds them for programs outside LMMS). It links
# ipc::ipc, or ipc::ipc_static with IPC_LMMS_STATIC=ON.
#
# Options (set before find_package): IPC_LMMS_DEFAULT_STAGE (1, 2 or 3;
# default 3: the stage a host uses unless IPC_LMMS_STAGE says otherwise at
# run time).

if(TARGET ipc_lmms)
  return()
endif()

if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../src/Inbox.cpp")
  # The source tree: adapters/lmms/cmake/.
  get_filename_component(_ipc_lmms_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
  set(_ipc_lmms_include "${_ipc_lmms_root}/include")
  set(_ipc_lmms_src "${_ipc_lmms_root}/src")
  set(_ipc_lmms_standalone "${_ipc_lmms_root}/standalone")
else()
  # Installed: <prefix>/lib/cmake/ipc/.
  get_filename_component(_ipc_lmms_root "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  set(_ipc_lmms_include "${_ipc_lmms_root}/include/ipc/lmms")
  set(_ipc_lmms_src "${_ipc_lmms_root}/share/ipc/lmms/src")
  set(_ipc_lmms_standalone "${_ipc_lmms_root}/include/ipc/lmms/standalone")
endif()

find_package(Threads REQUIRED)

# Built only when something links it (a project that finds the package for
# ipc::ipc alone compiles none of this).
add_library(ipc_lmms STATIC EXCLUDE_FROM_ALL
  "${_ipc_lmms_src}/Channels.cpp"
  "${_ipc_lmms_src}/Connect.cpp"
  "${_ipc_lmms_src}/Inbox.cpp"
  "${_ipc_lmms_src}/Links.cpp"
  "${_ipc_lmms_src}/Process.cpp"
  "${_ipc_lmms_src}/RemotePluginBase.cpp"
  "${_ipc_lmms_src}/RemotePluginHost.cpp"
  "${_ipc_lmms_src}/Wire.cpp")
add_library(ipc::lmms ALIAS ipc_lmms)
target_compile_features(ipc_lmms PUBLIC cxx_std_17)
set_target_properties(ipc_lmms PROPERTIES CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
target_include_directories(ipc_lmms PUBLIC "${_ipc_lmms_include}" PRIVATE "${_ipc_lmms_src}")
if(IPC_LMMS_TYPES_DIR)
  target_include_directories(ipc_lmms PUBLIC "${IPC_LMMS_TYPES_DIR}")
else()
  target_include_directories(ipc_lmms PUBLIC "${_ipc_lmms_standalone}")
endif()
if(IPC_LMMS_DEFAULT_STAGE)
  target_compile_definitions(ipc_lmms PRIVATE IPC_LMMS_DEFAULT_STAGE=${IPC_LMMS_DEFAULT_STAGE})
endif()
if(IPC_LMMS_STATIC)
  target_link_libraries(ipc_lmms PUBLIC ipc::ipc_static Threads::Threads)
else()
  target_link_libraries(ipc_lmms PUBLIC ipc::ipc Threads::Threads)
endif()

if(NOT TARGET ipc::lmms_standalone)
  add_library(ipc::lmms_standalone INTERFACE IMPORTED)
  set_target_properties(ipc::lmms_standalone PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_ipc_lmms_standalone}")
endif()

unset(_ipc_lmms_root)
unset(_ipc_lmms_include)
unset(_ipc_lmms_src)
unset(_ipc_lmms_standalone)
