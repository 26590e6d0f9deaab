# cpack -G DEB (from a configured and built tree): one package with the libraries, the headers,
# the CMake and pkg-config files, the daemons, the admin CLI and the provider plugins.
# The README's "Use it as a library" section has the commands.
set(CPACK_PACKAGE_NAME ublkpool)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the ublk-pool authors")
set(CPACK_PACKAGE_CONTACT "the ublk-pool authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "memory pool and zero-copy buffers for Linux ublk userspace block devices")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
# The run-time libraries the binaries need (libstdc++, liburing, mimalloc, jemalloc), from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The headers and the CMake package need these at a consumer's build time.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "liburing-dev, libboost-dev (>= 1.74), pkgconf | pkg-config")
include(CPack)
