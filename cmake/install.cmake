# `cmake --install`: libvggcl.so with its soname link, vggcl.h, the vggcl command, its man page
# (made from --help by help2man when it is installed), the CMake package (find_package(vggcl
# CONFIG) -> vggcl::vggcl; the build tree is one as well), vggcl.pc for pkg-config and the OpenCL
# stack's leak suppressions (share/vggcl).
if(NOT TARGET vggcl_shared)
  return()
endif()
include(CMakePackageConfigHelpers)
install(TARGETS vggcl_shared EXPORT vggclTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}) # (the include folder: the target's INSTALL_INTERFACE)
install(FILES ${PROJECT_SOURCE_DIR}/include/vggcl.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS vggcl_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# the suppressions of the OpenCL stack's own leaks, for a program of the user's run under valgrind or LeakSanitizer
# (PoCL's LLVM keeps its compiler state to the end: "definitely lost", none of it vggcl's)
install(FILES ${PROJECT_SOURCE_DIR}/tests/sanitizers/valgrind.supp ${PROJECT_SOURCE_DIR}/tests/sanitizers/lsan.supp
        DESTINATION ${CMAKE_INSTALL_DATADIR}/vggcl)
install(EXPORT vggclTargets NAMESPACE vggcl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vggcl)
# the build tree is a package too (CMAKE_PREFIX_PATH=build finds its vggclConfig.cmake, which
# included a vggclTargets.cmake that only an install made)
export(EXPORT vggclTargets NAMESPACE vggcl:: FILE ${PROJECT_BINARY_DIR}/vggclTargets.cmake)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vggclConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/vggclConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vggcl)
# 0.x: a new minor version may change the API
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vggclConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vggclConfig.cmake ${PROJECT_BINARY_DIR}/vggclConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vggcl)
# vggcl.pc finds the prefix from its own place, so an installed tree can be moved; but not when
# the folders are given as absolute paths (GNUInstallDirs allows it: packagers do), written as they are,
# nor for the system prefix, /usr, whose folders pkg-config knows by their text and leaves off
# the flags (${pcfiledir}/../../../lib/... put -L/usr/lib/... before a user's own -L on every link line)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}"
   OR CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
  set(VGGCL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(VGGCL_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(VGGCL_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH VGGCL_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
  set(VGGCL_PC_PREFIX "\${pcfiledir}/${VGGCL_PC_UP}")
  set(VGGCL_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(VGGCL_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/vggcl.pc.in ${PROJECT_BINARY_DIR}/to-install/vggcl.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/to-install/vggcl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# the build tree's own vggcl.pc (PKG_CONFIG_PATH=build), as its vggclConfig.cmake: the header where it is
# in the source, the library where it was built (the install's copy, which was here, named build/../../include)
# (a generator of several configurations, Ninja Multi-Config: one for each, in build/CONFIG/)
set(VGGCL_PC_PREFIX "${PROJECT_BINARY_DIR}")
set(VGGCL_PC_LIBDIR "$<TARGET_FILE_DIR:vggcl_shared>")
set(VGGCL_PC_INCLUDEDIR "${PROJECT_SOURCE_DIR}/include")
configure_file(${PROJECT_SOURCE_DIR}/cmake/vggcl.pc.in ${PROJECT_BINARY_DIR}/CMakeFiles/vggcl-build.pc.in @ONLY)
get_property(VGGCL_MULTI_CONFIG GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
if(VGGCL_MULTI_CONFIG)
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/$<CONFIG>/vggcl.pc INPUT ${PROJECT_BINARY_DIR}/CMakeFiles/vggcl-build.pc.in)
else()
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/vggcl.pc INPUT ${PROJECT_BINARY_DIR}/CMakeFiles/vggcl-build.pc.in)
endif()

find_program(HELP2MAN help2man)
if(HELP2MAN)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/vggcl.1
                     COMMAND ${CMAKE_COMMAND} -DVGGCL=$<TARGET_FILE:vggcl_cli> -DHELP2MAN=${HELP2MAN}
                             -DOUT=${PROJECT_BINARY_DIR}/vggcl.1 -P ${PROJECT_SOURCE_DIR}/cmake/man.cmake
                     DEPENDS vggcl_cli ${PROJECT_SOURCE_DIR}/cmake/man.cmake
                     COMMENT "Making the man page vggcl.1 from vggcl --help and each command's --help" VERBATIM)
  add_custom_target(vggcl_man ALL DEPENDS ${PROJECT_BINARY_DIR}/vggcl.1)
  install(FILES ${PROJECT_BINARY_DIR}/vggcl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man page (apt-get install help2man)")
endif()
