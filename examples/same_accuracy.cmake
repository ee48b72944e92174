# ctest helper: a checkpoint round-trips. Runs TRAIN (a training run that saves a checkpoint
# and prints "test accuracy: A"), checks A >= MIN, then runs EVAL (an evaluate-only run that
# loads that checkpoint) and checks that it prints the same "test accuracy: A".
#   TRAIN, EVAL  the commands, their words separated by "@@"
#   MIN          the least accuracy TRAIN may reach
#   TRAIN_MATCH  regular expressions TRAIN's output must match, separated by "@@" (optional)
#   SOURCE_DIR   the checkout (data_missing.cmake: a missing MNIST skips the check)
foreach(var TRAIN EVAL TRAIN_MATCH)
  string(REPLACE "@@" ";" ${var} "${${var}}")
endforeach()

# The accuracy printed by COMMAND (a list) into the variable named by result.
function(run_for_accuracy result)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REPLACE ";" " " shown "${ARGN}")
  message("$ ${shown}\n${out}")
  include(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/data_missing.cmake)
  if(data_missing)
    set(${result} "" PARENT_SCOPE)
    return()
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "exit code ${rc}, expected 0")
  endif()
  if(NOT out MATCHES "test accuracy: ([0-9]\\.[0-9]+)")
    message(FATAL_ERROR "no 'test accuracy: ...' line")
  endif()
  set(${result} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  set(output "${out}" PARENT_SCOPE)
endfunction()

run_for_accuracy(trained ${TRAIN})
if(trained STREQUAL "")
  return() # skipped: no MNIST
endif()
foreach(re ${TRAIN_MATCH})
  if(NOT output MATCHES "${re}")
    message(FATAL_ERROR "the training run's output does not match '${re}'")
  endif()
endforeach()
if(trained LESS MIN)
  message(FATAL_ERROR "test accuracy ${trained} after training, expected at least ${MIN}")
endif()
run_for_accuracy(loaded ${EVAL})
if(NOT loaded STREQUAL trained)
  message(FATAL_ERROR "the loaded checkpoint gives test accuracy ${loaded}, training gave ${trained}")
endif()
message("test accuracy ${trained} after training and after loading the checkpoint")
