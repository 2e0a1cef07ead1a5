// agent/profiling/function_names.h: C++ function names as profiles show them.
//
// A profile names each function twice (profile.proto's Function.name and system_name): the
// mangled symbol, and a readable name. The readable name is the one pprof itself derives by
// default when it demangles a profile (`go tool pprof`'s `-symbolize=demangle=` unset): the
// qualified name without parameter lists, template arguments or return type, so
// `void std::vector<int>::_M_realloc_insert<int>(iterator, int&&)` reads
// `std::vector::_M_realloc_insert`. That keeps reports and flame graphs short, and the same
// function one node whatever its instantiation. The /debug/pprof/symbol answer (legacy clients,
// which shorten names themselves) keeps the full demangled form.
//
// Thread-safety: pure functions.

#ifndef VITALS_AGENT_PROFILING_FUNCTION_NAMES_H_
#define VITALS_AGENT_PROFILING_FUNCTION_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

// `name` demangled (in full, with parameters) when it is a mangled C++ name, else as is.
std::string Demangle(absl::string_view name);

// The short form of a fully demangled name (see above); names that are not C++ come back as
// they are.
std::string ShortFunctionName(absl::string_view demangled);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_FUNCTION_NAMES_H_
