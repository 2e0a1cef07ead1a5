// vitals/detail/export.h: VITALS_EXPORT marks the public API.
//
// The library is compiled with hidden visibility (CMakeLists.txt): in a shared libvitals only
// what carries this mark is in the dynamic symbol table: the classes and functions of
// include/vitals/, and the few globals and slow paths of vitals/detail/ that the inline record
// paths reach (the cell table, the agent life slots, the slow adds). Everything in agent/ and
// exporters/ stays inside (tests/install/check_exports.py holds that). In a static library the
// mark changes nothing. Thread-safety, ownership, cost: none; a macro.

#ifndef VITALS_DETAIL_EXPORT_H_
#define VITALS_DETAIL_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define VITALS_EXPORT __attribute__((visibility("default")))
#else
#define VITALS_EXPORT
#endif

#endif  // VITALS_DETAIL_EXPORT_H_
