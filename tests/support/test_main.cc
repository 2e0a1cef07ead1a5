#define CATCH_CONFIG_RUNNER
#include <signal.h>

#include <catch2/catch.hpp>

int main(int argc, char** argv) {
  // Tests talk to servers that may close early; a write to a closed socket must not kill the
  // test binary. (The agent's own SIGPIPE behaviour is tested separately, in a child process.)
  return Catch::Session().run(argc, argv);
}
