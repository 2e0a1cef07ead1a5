#include "agent/profiling/function_names.h"

#include <catch2/catch.hpp>
#include <string>

namespace {

using vitals::internal::Demangle;
using vitals::internal::ShortFunctionName;

TEST_CASE("short names drop parameters, template arguments and return types", "[symbols]") {
  // The names pprof shows by default when it demangles C++ itself.
  CHECK(ShortFunctionName("demo::CpuHeavyWork(int)") == "demo::CpuHeavyWork");
  CHECK(ShortFunctionName("void std::vector<int, std::allocator<int> >::_M_realloc_insert<int>("
                          "__gnu_cxx::__normal_iterator<int*, std::vector<int, "
                          "std::allocator<int> > >, int&&)") == "std::vector::_M_realloc_insert");
  CHECK(ShortFunctionName(
            "std::_Function_handler<void (httplib::Request const&, httplib::Response&), "
            "main::{lambda(httplib::Request const&, httplib::Response&)#3}>::_M_invoke(std::_Any_"
            "data const&, httplib::Request const&, httplib::Response&)") ==
        "std::_Function_handler::_M_invoke");
  CHECK(ShortFunctionName("(anonymous namespace)::GenerateLoad(int, double, int)") ==
        "(anonymous namespace)::GenerateLoad");
  CHECK(ShortFunctionName("Foo::~Foo()") == "Foo::~Foo");
  CHECK(ShortFunctionName("char const* Foo::name<3>() const") == "Foo::name");
}

TEST_CASE("short names keep operator spellings, lambdas and clone suffixes", "[symbols]") {
  CHECK(ShortFunctionName("Foo::operator()(int) const") == "Foo::operator()");
  CHECK(ShortFunctionName("operator<<(std::ostream&, Foo const&)") == "operator<<");
  CHECK(ShortFunctionName("bool operator< <int>(X<int> const&, X<int> const&)") == "operator<");
  CHECK(ShortFunctionName("Foo::operator->() const") == "Foo::operator->");
  CHECK(ShortFunctionName("operator new(unsigned long)") == "operator new");
  CHECK(ShortFunctionName("operator delete[](void*)") == "operator delete[]");
  CHECK(ShortFunctionName("Foo::operator bool() const") == "Foo::operator bool");
  CHECK(ShortFunctionName("main::{lambda(int)#1}::operator()(int) const") ==
        "main::{lambda()#1}::operator()");
  CHECK(ShortFunctionName("Leak(int) [clone .constprop.0]") == "Leak [clone .constprop.0]");
  CHECK(ShortFunctionName("foo(int) [clone .cold]") == "foo [clone .cold]");
}

TEST_CASE("names that are not C++ come back as they are", "[symbols]") {
  CHECK(ShortFunctionName("memcpy") == "memcpy");
  CHECK(ShortFunctionName("__libc_start_main") == "__libc_start_main");
  CHECK(ShortFunctionName("") == "");
  CHECK(Demangle("memcpy") == "memcpy");
  CHECK(Demangle("_Znot a name") == "_Znot a name");  // fails to demangle: as is
  CHECK(Demangle("_ZN4demo12CpuHeavyWorkEi") == "demo::CpuHeavyWork(int)");
  CHECK(ShortFunctionName(Demangle("_ZN12_GLOBAL__N_112GenerateLoadEidi")) ==
        "(anonymous namespace)::GenerateLoad");
}

}  // namespace
