# Install rules, the CMake package (find_package(ublkpool)), the pkg-config files and the .deb.
# What is installed and why: docs/packaging.md.
include(CMakePackageConfigHelpers)

set(UBLKPOOL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ublkpool)
# One project directory: #include "pool/pool.h" with -I<prefix>/include/ublkpool.
set(UBLKPOOL_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/ublkpool)
# The daemons look for their provider plugins in <directory of the executable>/../lib/ublkpool.
set(UBLKPOOL_PLUGIN_DIR lib/ublkpool)

get_property(libraries GLOBAL PROPERTY UBLKPOOL_INSTALLED_LIBRARIES)
install(TARGETS ${libraries} EXPORT ublkpoolTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${UBLKPOOL_INCLUDE_DIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/pool/include/ DESTINATION ${UBLKPOOL_INCLUDE_DIR}
  PATTERN "*.in" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/pool/generated/pool/version.h DESTINATION ${UBLKPOOL_INCLUDE_DIR}/pool)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ublk/include/ DESTINATION ${UBLKPOOL_INCLUDE_DIR})
if(TARGET adapters)
  # The jemalloc and mimalloc providers live in their plugins only (the interposition trap,
  # docs/adapters.md): their headers are of no use outside this tree.
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/adapters/include/ DESTINATION ${UBLKPOOL_INCLUDE_DIR}
    PATTERN "jemalloc_provider.hpp" EXCLUDE PATTERN "mimalloc_provider.hpp" EXCLUDE)
endif()

install(EXPORT ublkpoolTargets NAMESPACE ublkpool:: DESTINATION ${UBLKPOOL_CMAKE_DIR})
# The same targets from this build tree, for a consumer that points ublkpool_DIR here.
export(EXPORT ublkpoolTargets NAMESPACE ublkpool:: FILE ${PROJECT_BINARY_DIR}/ublkpoolTargets.cmake)

if(TARGET adapters)
  set(UBLKPOOL_HAS_ADAPTERS ON)
else()
  set(UBLKPOOL_HAS_ADAPTERS OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ublkpoolConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ublkpoolConfig.cmake INSTALL_DESTINATION ${UBLKPOOL_CMAKE_DIR})
# 0.x: a minor version may break the API, so 0.2 accepts 0.2.y only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ublkpoolConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ublkpoolConfig.cmake ${PROJECT_BINARY_DIR}/ublkpoolConfigVersion.cmake
  DESTINATION ${UBLKPOOL_CMAKE_DIR})

# pkg-config: relocatable (prefix from ${pcfiledir}), so that one build serves any install prefix
# (cmake --install --prefix, and the .deb's /usr).
file(RELATIVE_PATH UBLKPOOL_PC_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" UBLKPOOL_PC_PREFIX "${UBLKPOOL_PC_PREFIX}")
foreach(pc ublkpool ublkpool-ublk)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

foreach(binary ublk-pool ublk-pool-null ublk-pool-mem ublk-pool-loop ublk-pool-nbd)
  if(TARGET ${binary})
    install(TARGETS ${binary} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
foreach(plugin ublkpool_jemalloc ublkpool_mimalloc ublkpool_example_slab)
  if(TARGET ${plugin})
    install(TARGETS ${plugin} LIBRARY DESTINATION ${UBLKPOOL_PLUGIN_DIR})
  endif()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

include(${PROJECT_SOURCE_DIR}/cmake/cpack.cmake)
