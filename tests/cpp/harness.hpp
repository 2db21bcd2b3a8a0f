// harness.hpp: the few pieces the C++ tests need (cases, checks, child
// processes, an allocation counter), to stay free of test frameworks.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_TESTS_HARNESS_HPP
#define IPC_TESTS_HARNESS_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace harness {

/// A failed check (the case stops; the runner reports it).
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Registers a case at static initialisation.
struct Case {
    Case(const char* name, void (*run)());
};

[[noreturn]] void fail(const char* file, int line, const std::string& what);

/// The path of this test program (to start it again as a peer).
std::string self_path();
/// Where ipc-wire-vectors is (IPC_WIRE_VECTORS, else the build's default).
std::string wire_vectors_path();
/// Where ipc-hostile-peer is (IPC_HOSTILE_PEER, else the build's default).
std::string hostile_peer_path();
/// The source tree (for fuzz/corpus).
std::string source_dir();

/// Runs a shell command; its standard output, and its exit status in
/// `status`.
std::string run_command(const std::string& command, int& status);

/// A child process running this program with `args`; `wait` returns its
/// exit status (the destructor kills and reaps one still running).
class Child {
public:
    explicit Child(const std::vector<std::string>& args);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    int wait();

private:
    long pid_ = -1;
};

/// Allocations through operator new on the threads that count: how many,
/// and the largest.
struct AllocationStats {
    size_t count = 0;
    size_t largest = 0;
};
/// Counts this thread's allocations while it lives.
class CountAllocations {
public:
    CountAllocations();
    ~CountAllocations();
    AllocationStats stats() const;
};

/// Counts this thread's calls to malloc, calloc, realloc and the aligned
/// allocators while it lives: what the C++ library (operator new) and the
/// library's Rust code (its global allocator) both allocate through.
/// Counted with a malloc of this program's that forwards to glibc's, or,
/// under AddressSanitizer (whose allocator is the malloc), with its
/// allocation hook.
class CountMallocs {
public:
    CountMallocs();
    ~CountMallocs();
    /// Allocations so far.
    size_t count() const;
    /// Whether this build can count them (glibc, or AddressSanitizer).
    static bool supported();
};

std::string hex(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> unhex(const std::string& text);

}  // namespace harness

#define HARNESS_CAT2(a, b) a##b
#define HARNESS_CAT(a, b) HARNESS_CAT2(a, b)

/// Declares a test case: `TEST_CASE(wire_encodes_like_rust) { ... }`.
#define TEST_CASE(name)                                              \
    static void name();                                              \
    static const harness::Case HARNESS_CAT(case_, name)(#name, name); \
    static void name()

/// Fails the case unless `cond` holds.
#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond)) {                                               \
            harness::fail(__FILE__, __LINE__, "CHECK(" #cond ")");   \
        }                                                            \
    } while (false)

/// Fails the case unless `a == b`, printing both.
#define CHECK_EQ(a, b)                                                           \
    do {                                                                         \
        const auto& harness_a = (a);                                             \
        const auto& harness_b = (b);                                             \
        if (!(harness_a == harness_b)) {                                         \
            std::ostringstream harness_s;                                        \
            harness_s << "CHECK_EQ(" #a ", " #b "): " << harness_a << " != " << harness_b; \
            harness::fail(__FILE__, __LINE__, harness_s.str());                  \
        }                                                                        \
    } while (false)

/// Fails the case with a message.
#define FAIL(message) harness::fail(__FILE__, __LINE__, (message))

#endif  // IPC_TESTS_HARNESS_HPP
