# Install rules: headers, shared and static libraries, the CMake package (find_package(Axon)
# gives Axon::axon and Axon::axon_static) and the pkg-config files axon.pc, axon-static.pc.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS axon axon_static EXPORT AxonTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT AxonTargets NAMESPACE Axon:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Axon)

configure_package_config_file(cmake/AxonConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/AxonConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Axon)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/AxonConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/AxonConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/AxonConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Axon)

set(AXON_PC_PRIVATE_LIBS "-lm -lpthread")
set(AXON_PC_REQUIRES_PRIVATE "openblas zlib libcjson")
if(AXON_HAVE_CUDA)
  string(APPEND AXON_PC_PRIVATE_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcudart -lstdc++")
endif()
# axon.pc links libaxon.so with an rpath to it (a program runs without ldconfig, from any
# prefix); axon-static.pc links libaxon.a.
configure_file(cmake/axon.pc.in ${CMAKE_CURRENT_BINARY_DIR}/axon.pc @ONLY)
configure_file(cmake/axon-static.pc.in ${CMAKE_CURRENT_BINARY_DIR}/axon-static.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/axon.pc ${CMAKE_CURRENT_BINARY_DIR}/axon-static.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
