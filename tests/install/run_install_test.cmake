# Installs the built library into a scratch prefix, then configures, builds and runs an
# outside project against it: through find_package(Axon) in C and in C++, and through
# pkg-config in C. Last, runs README.md's install commands as written (the lines between its
# install-commands markers), only pointed at this build and the scratch prefix.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${AXON_BINARY_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_RPATH=${prefix}/lib)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer_c)
run(${WORK_DIR}/build/consumer_cxx)
run(${WORK_DIR}/build/consumer_c_static)

# pkg-config: compile the C consumer by hand with the flags axon.pc gives.
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
execute_process(COMMAND pkg-config --cflags --libs axon OUTPUT_VARIABLE flags
                RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find axon.pc")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(cc -std=c11 ${CONSUMER_SOURCE_DIR}/consumer.c ${flags} -Wl,-rpath,${prefix}/lib
    -o ${WORK_DIR}/consumer_pc)
run(${WORK_DIR}/consumer_pc)

# ---------------------------------------------------------------- README.md, as written
file(READ ${SOURCE_DIR}/README.md readme)
string(REGEX MATCH "<!-- install-commands -->\n```\n(.*)\n```\n<!-- /install-commands -->" _
       "${readme}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md has no install-commands block")
endif()
string(REPLACE "\n" ";" commands "${CMAKE_MATCH_1}")
set(readme_dir ${WORK_DIR}/readme)
file(MAKE_DIRECTORY ${readme_dir})
# a fresh shell, as a user's: no LD_LIBRARY_PATH, pkg-config told only where the prefix is
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
unset(ENV{LD_LIBRARY_PATH})
foreach(line IN LISTS commands)
  if(line MATCHES "^cmake --install build$")
    set(line "cmake --install ${AXON_BINARY_DIR} --prefix ${prefix}")
  else()
    string(REPLACE "examples/" "${SOURCE_DIR}/examples/" line "${line}")
  endif()
  message(STATUS "README: ${line}")
  run(bash -euo pipefail -c "${line}" WORKING_DIRECTORY ${readme_dir})
endforeach()

# The shared link needs libaxon.so and finds it through its rpath; the static one does not.
execute_process(COMMAND readelf -d ${readme_dir}/first_program OUTPUT_VARIABLE dyn)
if(NOT dyn MATCHES "NEEDED[^\n]*libaxon\\.so" OR NOT dyn MATCHES "(RUNPATH|RPATH)[^\n]*${prefix}")
  message(FATAL_ERROR "first_program: not linked to libaxon.so with an rpath to it:\n${dyn}")
endif()
execute_process(COMMAND readelf -d ${readme_dir}/first_program_static OUTPUT_VARIABLE dyn)
if(dyn MATCHES "libaxon")
  message(FATAL_ERROR "first_program_static needs libaxon.so:\n${dyn}")
endif()
