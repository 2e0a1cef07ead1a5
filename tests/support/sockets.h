// tests/support/sockets.h: raw loopback sockets for tests that play hostile or broken clients,
// and readings of this process's own resources.

#ifndef VITALS_TESTS_SUPPORT_SOCKETS_H_
#define VITALS_TESTS_SUPPORT_SOCKETS_H_

#include <chrono>
#include <string>

namespace vitals_test {

// A connected TCP socket to 127.0.0.1:port, or -1.
int ConnectLoopback(int port);

// A non-blocking connect to 127.0.0.1:port that may still be in progress, or -1.
int ConnectNonBlocking(int port);

// Writes all of `data`; false on an error.
bool SendAll(int fd, const std::string& data);

// Reads until the peer closes, an error, or `timeout` passes. `*closed` (when given) tells
// whether the peer closed (or reset) the connection.
std::string ReadUntilClose(int fd, std::chrono::milliseconds timeout, bool* closed = nullptr);

// Connects, sends `request`, reads until the server closes (at most `timeout`) and closes.
std::string RawExchange(int port, const std::string& request,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The status code of a raw HTTP response ("HTTP/1.1 413 ..." -> 413), or -1.
int StatusOf(const std::string& response);

// The body of a raw HTTP response (after the blank line), or empty.
std::string BodyOf(const std::string& response);

// Raises this process's open-file limit to at least `n` (up to the hard limit); false when the
// hard limit is lower.
bool RaiseFdLimit(int n);

// This process's resident set size (bytes) and thread count, from /proc/self/status.
long ResidentBytes();
int ThreadCount();

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_SOCKETS_H_
