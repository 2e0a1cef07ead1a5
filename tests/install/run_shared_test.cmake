# vitals as a shared library, and as a Debian package of it. Builds vitals from VITALS_SOURCE_DIR
# with -DVITALS_SHARED=ON (Release, prefix /usr), then:
#   1. the .so's dynamic symbols are the public API only (check_exports.py) and it has a SONAME;
#   2. installed into a scratch prefix, the consumer builds with find_package and with
#      pkg-config, links libvitals.so, and runs (it scrapes itself);
#   3. `cpack -G DEB` makes libvitals-dev; lintian reports no error; `dpkg -i` installs it, the
#      consumer builds against /usr with CMake and with pkg-config and runs; `dpkg --purge` removes
#      it, also when a step before failed.
cmake_minimum_required(VERSION 3.21)  # policies of 3.21: quoted if() arguments are strings
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
set(build ${WORK_DIR}/vitals)
vitals_step("configure vitals (shared)" ${CMAKE_COMMAND} -S ${VITALS_SOURCE_DIR} -B ${build}
  -DVITALS_SHARED=ON -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
  -DVITALS_BUILD_TESTS=OFF -DVITALS_BUILD_EXAMPLES=OFF -DVITALS_BUILD_BENCH=OFF)
vitals_step("build vitals (shared)" ${CMAKE_COMMAND} --build ${build} -j ${JOBS})
file(GLOB so ${build}/libvitals.so.*.*.*)
vitals_step("exported symbols" python3 ${CMAKE_CURRENT_LIST_DIR}/check_exports.py ${so}
  ${VITALS_SOURCE_DIR}/include)
message(STATUS "${step_output}")
vitals_step("readelf -d" readelf -d ${so})
if(NOT step_output MATCHES "Library soname: \\[libvitals\\.so\\.[0-9]+\\.[0-9]+\\]")
  message(FATAL_ERROR "libvitals.so has no SONAME of the form libvitals.so.MAJOR.MINOR")
endif()

# 2. A scratch prefix.
set(prefix ${WORK_DIR}/prefix)
vitals_step("cmake --install" ${CMAKE_COMMAND} --install ${build} --prefix ${prefix})
vitals_step("configure the consumer" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}
  -B ${WORK_DIR}/consumer -DCMAKE_PREFIX_PATH=${prefix} -DVITALS_QUICKSTART=${QUICKSTART_SOURCE})
vitals_step("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
vitals_step("run the consumer" ${WORK_DIR}/consumer/consumer)
vitals_step("ldd consumer" ldd ${WORK_DIR}/consumer/consumer)
if(NOT step_output MATCHES "libvitals\\.so\\.[0-9.]+ => ${prefix}")
  message(FATAL_ERROR "the consumer does not load the installed libvitals.so:\n${step_output}")
endif()
file(GLOB_RECURSE pc ${prefix}/*/vitals.pc)
get_filename_component(pc_dir ${pc} DIRECTORY)
get_filename_component(lib_dir ${pc_dir} DIRECTORY)
vitals_pkg_config_consumer("pkg-config consumer (prefix)" ${pc_dir} ${WORK_DIR}/consumer_pc
  ${lib_dir})

# 3. The Debian package.
vitals_step("cpack -G DEB" ${CMAKE_COMMAND} -E chdir ${build} cpack -G DEB)
file(GLOB deb ${build}/libvitals-dev_*.deb)
vitals_step("dpkg-deb --info" dpkg-deb --info ${deb})
message(STATUS "${step_output}")
execute_process(COMMAND lintian --tag-display-limit 0 ${deb} RESULT_VARIABLE rc
  OUTPUT_VARIABLE lintian ERROR_VARIABLE lintian_err)
message(STATUS "lintian:\n${lintian}${lintian_err}")
if(lintian MATCHES "(^|\n)E: ")
  message(FATAL_ERROR "lintian reports errors on ${deb}")
endif()
execute_process(COMMAND dpkg-query -W -f=\${Status} libvitals-dev OUTPUT_VARIABLE status
  ERROR_QUIET)
if(status MATCHES "installed")
  message(FATAL_ERROR "libvitals-dev is already installed on this machine; not touching it")
endif()
vitals_step("dpkg -i" dpkg -i ${deb})
# From here on the package is removed whatever happens: a failing step is reported after the
# purge.
set(VITALS_STEPS_KEEP_GOING ON)
set(what "the installed package's consumer")
vitals_step("${what}: configure" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}
  -B ${WORK_DIR}/system -DVITALS_QUICKSTART=${QUICKSTART_SOURCE})
vitals_step("${what}: build" ${CMAKE_COMMAND} --build ${WORK_DIR}/system)
vitals_step("${what}: run" ${WORK_DIR}/system/consumer)
vitals_pkg_config_consumer("${what}: pkg-config" "" ${WORK_DIR}/system_pc "")
set(VITALS_STEPS_KEEP_GOING OFF)
execute_process(COMMAND dpkg --purge libvitals-dev RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
vitals_report_step_failure()
if(rc)
  message(FATAL_ERROR "dpkg --purge libvitals-dev failed (${rc}):\n${out}")
endif()
if(EXISTS /usr/include/vitals/agent.h)
  message(FATAL_ERROR "dpkg --purge left /usr/include/vitals behind")
endif()
