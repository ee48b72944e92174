# ctest require_gpu_mode: with AXON_REQUIRE_GPU=1 a GPU test must never pass by skipping.
# Runs BIN --filter FILTER twice. Without the variable: passes (ran, or skipped where no GPU
# works). With it: either fails saying AXON_REQUIRE_GPU (no GPU here), or passes having run
# the test with nothing skipped (a GPU machine).
function(run_filtered out_rc out_text)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ARGN} ${BIN} --verbose --filter ${FILTER}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE text)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${text}" PARENT_SCOPE)
endfunction()

run_filtered(rc text --unset=AXON_REQUIRE_GPU)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "without AXON_REQUIRE_GPU, ${FILTER} failed (rc ${rc}):\n${text}")
endif()

run_filtered(rc text AXON_REQUIRE_GPU=1)
string(REGEX MATCHALL "\\[SKIP\\] [^\n]*" skips "${text}")
list(FILTER skips EXCLUDE REGEX "Test is disabled")
if(rc EQUAL 0)
  if(skips OR NOT text MATCHES "Tested: 1 \\| Passing: 1 \\| Failing: 0")
    message(FATAL_ERROR "AXON_REQUIRE_GPU=1: ${FILTER} passed without running:\n${text}")
  endif()
  message(STATUS "a GPU works here: ${FILTER} ran in require-GPU mode")
elseif(text MATCHES "AXON_REQUIRE_GPU=1 but [^\n]*" AND NOT skips)
  message(STATUS "no GPU here, and require-GPU mode failed the test as it must: "
                 "${CMAKE_MATCH_0}")
else()
  message(FATAL_ERROR "AXON_REQUIRE_GPU=1: ${FILTER} failed for another reason (rc ${rc}):\n"
                      "${text}")
endif()
