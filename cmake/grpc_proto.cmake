# vitals_grpc_proto(<target> <file.proto>): a static library of the protobuf messages and gRPC
# stubs protoc and grpc_cpp_plugin generate from <file.proto>, for the gRPC tests, demo and
# benchmark (vitals itself links no gRPC: vitals/grpc.h is header-only).
function(vitals_grpc_proto target proto)
  get_filename_component(proto ${proto} ABSOLUTE)
  get_filename_component(name ${proto} NAME_WE)
  get_filename_component(dir ${proto} DIRECTORY)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target})
  set(generated ${out}/${name}.pb.cc ${out}/${name}.pb.h ${out}/${name}.grpc.pb.cc
    ${out}/${name}.grpc.pb.h)
  add_custom_command(OUTPUT ${generated}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} --cpp_out=${out} --grpc_out=${out}
            --plugin=protoc-gen-grpc=${VITALS_GRPC_CPP_PLUGIN} -I ${dir} ${proto}
    DEPENDS ${proto}
    COMMENT "Generating the protobuf messages and gRPC stubs of ${name}.proto"
    VERBATIM)
  add_library(${target} STATIC ${out}/${name}.pb.cc ${out}/${name}.grpc.pb.cc)
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC gRPC::grpc++ protobuf::libprotobuf)
endfunction()
