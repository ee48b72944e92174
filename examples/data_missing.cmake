# Included by the example checks after running a program whose output is in `out`: when the
# output says MNIST is missing, sets data_missing and prints the line that ctest's
# SKIP_REGULAR_EXPRESSION reports as Skipped (examples/CMakeLists.txt), unless
# SOURCE_DIR/../shared/data exists, where the data must be (then the check fails).
set(data_missing FALSE)
if(out MATCHES "dataset 'mnist' not found")
  if(IS_DIRECTORY "${SOURCE_DIR}/../shared/data")
    message(FATAL_ERROR "MNIST is missing although ${SOURCE_DIR}/../shared/data exists")
  endif()
  message("axon-tests: dataset missing, test skipped: mnist")
  set(data_missing TRUE)
endif()
