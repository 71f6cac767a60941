# Run PROG with ARGS and compare its stdout with the EXPECTED file.
execute_process(COMMAND ${PROG} ${ARGS} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "output of ${PROG} ${ARGS} differs\n--- got ---\n${out}\n--- want ---\n${want}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROG} exited with ${rc}")
endif()
