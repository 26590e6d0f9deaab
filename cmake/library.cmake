# ublkpool_shared_twin(<target> <export name> <file name>)
#
# <target> is a static library: the tree's own binaries link it (no run-time path to manage in
# the daemons, the tests and the VM). This adds <target>_shared, a shared library made of the same
# objects (the whole project builds position-independent code), with a SONAME, and gives both the
# names they install under: lib<file name>.a / lib<file name>.so.<major>.<minor>, exported as
# ublkpool::<export name>_static and ublkpool::<export name>. The caller adds the shared twin's
# link libraries (the shared twins of its dependencies).
function(ublkpool_shared_twin target export_name file_name)
  add_library(${target}_shared SHARED $<TARGET_OBJECTS:${target}>)
  foreach(property INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_FEATURES)
    get_target_property(value ${target} ${property})
    if(value)
      set_property(TARGET ${target}_shared PROPERTY ${property} "${value}")
    endif()
  endforeach()
  # 0.x: no ABI promise between minor versions, so the minor is part of the SONAME.
  set_target_properties(${target}_shared PROPERTIES
    OUTPUT_NAME ${file_name} EXPORT_NAME ${export_name}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${file_name} EXPORT_NAME ${export_name}_static)
  add_library(ublkpool::${export_name}_static ALIAS ${target})
  add_library(ublkpool::${export_name}_shared ALIAS ${target}_shared)
  set_property(GLOBAL APPEND PROPERTY UBLKPOOL_INSTALLED_LIBRARIES ${target} ${target}_shared)
endfunction()
