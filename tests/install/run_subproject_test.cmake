# vitals as a subproject (WAY=subdirectory: add_subdirectory; WAY=fetchcontent: FetchContent
# with SOURCE_DIR) of tests/install/subproject: the parent builds and runs the consumer, its
# build type is what it gave (none for subdirectory, Debug for fetchcontent), and its install
# tree holds its own program only. The subdirectory way also hides prometheus-cpp from the
# build, so vitals builds without it and the bridge refuses with a reason.
cmake_minimum_required(VERSION 3.21)  # policies of 3.21: quoted if() arguments are strings
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
if(WAY STREQUAL "subdirectory")
  set(build_type "")
  set(extra -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON)
else()
  set(build_type Debug)
  set(extra "")
endif()
vitals_step("configure the parent (${WAY})" ${CMAKE_COMMAND}
  -S ${CMAKE_CURRENT_LIST_DIR}/subproject -B ${WORK_DIR}/build
  -DVITALS_WAY=${WAY} -DVITALS_SOURCE_DIR=${VITALS_SOURCE_DIR}
  -DCMAKE_BUILD_TYPE=${build_type} ${extra})
file(STRINGS ${WORK_DIR}/build/CMakeCache.txt cached REGEX "^CMAKE_BUILD_TYPE:")
if(NOT cached STREQUAL "CMAKE_BUILD_TYPE:STRING=${build_type}")
  message(FATAL_ERROR "the parent's cached build type is '${cached}', it gave '${build_type}'")
endif()
vitals_step("build the parent" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j ${JOBS})
vitals_step("run the consumer" ${WORK_DIR}/build/consumer)
message(STATUS "${step_output}")
vitals_step("the parent's cmake --install" ${CMAKE_COMMAND} --install ${WORK_DIR}/build
  --prefix ${WORK_DIR}/prefix)
file(GLOB_RECURSE installed RELATIVE ${WORK_DIR}/prefix ${WORK_DIR}/prefix/*)
if(NOT installed STREQUAL "bin/consumer")
  message(FATAL_ERROR "the parent's install tree holds more than its program: ${installed}")
endif()
