# Helpers of the consumer tests (run_*_test.cmake): each step runs one command and stops the
# test with its output when it fails.

# vitals_step(<what> <command> [args...]): runs the command; FATAL_ERROR naming <what> on failure.
function(vitals_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# vitals_pkg_config_consumer(<what> <pc_dir> <binary> <lib_dir>): builds consumer.cc with the
# flags `pkg-config --cflags --libs vitals` gives from <pc_dir>, as a Makefile would, and runs it
# (finding a shared libvitals in <lib_dir>).
function(vitals_pkg_config_consumer what pc_dir binary lib_dir)
  set(source ${CMAKE_CURRENT_LIST_DIR}/consumer.cc)
  vitals_step("${what}: pkg-config --cflags --libs vitals" ${CMAKE_COMMAND} -E env
    PKG_CONFIG_PATH=${pc_dir} pkg-config --cflags --libs vitals)
  string(STRIP "${step_output}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  vitals_step("${what}: c++ consumer.cc $(pkg-config ...)" c++ -std=c++17 ${source} -o ${binary}
    ${flags})
  vitals_step("${what}: run" ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${lib_dir} ${binary})
endfunction()
