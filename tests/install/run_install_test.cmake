# Installs the built vitals into a scratch prefix, then builds and runs the consumer against it
# twice: with find_package(vitals CONFIG REQUIRED) (tests/install/CMakeLists.txt, which also
# builds the README's quick start with the README's CMake lines), and with the flags of the
# installed vitals.pc, as a Makefile or Meson user would. Neither needs prometheus-cpp.
cmake_minimum_required(VERSION 3.21)  # policies of 3.21: quoted if() arguments are strings
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
vitals_step("cmake --install" ${CMAKE_COMMAND} --install ${VITALS_BUILD_DIR} --prefix ${prefix})
# Nothing installed asks a consumer for prometheus-cpp (the bridge only read its headers).
file(GLOB_RECURSE package_files ${prefix}/*/vitals*.cmake ${prefix}/*/vitals.pc)
foreach(f ${package_files})
  file(READ ${f} text)
  if(text MATCHES "find_dependency\\(prometheus|prometheus-cpp::|prometheus-cpp-core")
    message(FATAL_ERROR "${f} asks consumers for prometheus-cpp")
  endif()
endforeach()
vitals_step("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${prefix} -DVITALS_QUICKSTART=${QUICKSTART_SOURCE})
vitals_step("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
vitals_step("run the consumer" ${WORK_DIR}/build/consumer)
file(GLOB_RECURSE pc_files ${prefix}/*/vitals.pc)
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one installed vitals.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
get_filename_component(lib_dir ${pc_dir} DIRECTORY)
vitals_pkg_config_consumer("pkg-config consumer" ${pc_dir} ${WORK_DIR}/consumer_pc ${lib_dir})
