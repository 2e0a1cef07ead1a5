# Helpers of the consumer tests (run_*_test.cmake): each step runs one command and stops the
# test with its output when it fails.
#
# Where cleanup must follow whatever happens (an installed package to purge), set
# VITALS_STEPS_KEEP_GOING: a failing step then records its message (vitals_step_failure) instead
# of stopping, and the steps after it are skipped, until the caller reports it.

# vitals_step(<what> <command> [args...]): runs the command; FATAL_ERROR naming <what> on failure.
function(vitals_step what)
  get_property(failed GLOBAL PROPERTY vitals_step_failure)
  if(failed)
    set(step_output "" PARENT_SCOPE)
    return()  # a step before failed (VITALS_STEPS_KEEP_GOING): skipped
  endif()
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc)
    set(failure "${what} failed (${rc}):\n${out}\n${err}")
    if(NOT VITALS_STEPS_KEEP_GOING)
      message(FATAL_ERROR "${failure}")
    endif()
    set_property(GLOBAL PROPERTY vitals_step_failure "${failure}")
  else()
    message(STATUS "${what}: ok")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# The failure a VITALS_STEPS_KEEP_GOING run recorded, as FATAL_ERROR; nothing when none did.
function(vitals_report_step_failure)
  get_property(failed GLOBAL PROPERTY vitals_step_failure)
  if(failed)
    message(FATAL_ERROR "${failed}")
  endif()
endfunction()

# vitals_pkg_config_consumer(<what> <pc_dir> <binary> <lib_dir>): builds consumer.cc with the
# flags `pkg-config --cflags --libs vitals` gives from <pc_dir>, as a Makefile would, and runs it
# (finding a shared libvitals in <lib_dir>). Empty <pc_dir> and <lib_dir> mean the system's.
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
