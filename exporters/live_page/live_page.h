// exporters/live_page/live_page.h: the agent's live page, one self-contained HTML document
// (its CSS and JavaScript inlined), compiled into the library from page.html, page.css and
// page.js in this directory by cmake/embed_live_page.cmake.
//
// The page asks only its own origin for anything: /vitals.json every few seconds, and, when
// the client may profile, /debug/pprof/profile and /debug/pprof/auto/*, which it decodes
// (gzip, profile.proto) and draws as flame graphs. Nothing is fetched from elsewhere, so it
// works offline.
//
// The footer's list of endpoints goes where the page has the marker <!--vitals:links-->.

#ifndef VITALS_EXPORTERS_LIVE_PAGE_LIVE_PAGE_H_
#define VITALS_EXPORTERS_LIVE_PAGE_LIVE_PAGE_H_

namespace vitals {
namespace internal {

// NUL-terminated, at most 150 KB (tests/exporters/live_endpoint_test.cc holds that).
extern const char kLivePage[];

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_EXPORTERS_LIVE_PAGE_LIVE_PAGE_H_
