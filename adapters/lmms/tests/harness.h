// harness.h: the few pieces the adapter's tests need, on POSIX and
// Windows: cases, checks, this program's path, child processes, whether a
// process still runs.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_TESTS_HARNESS_H
#define IPC_LMMS_TESTS_HARNESS_H

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace harness {

/// A failed check (the case stops; the runner reports it).
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A case, run once per stage it lists.
struct Case {
    Case(const char* name, void (*run)(int stage), std::vector<int> stages);
};

[[noreturn]] void fail(const char* file, int line, const std::string& what);

/// This program's path, and the directory it is in.
std::string selfPath();
std::string selfDir();

/// A child process running `program` with `args`; the destructor kills
/// one still running.
class Child {
public:
    Child(const std::string& program, const std::vector<std::string>& args);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    /// Kills it at once and reaps it.
    void kill();

private:
    std::intptr_t m_handle = 0;
    bool m_running = false;
};

/// Whether process `pid` still runs (a zombie counts as gone).
bool processAlive(std::uint32_t pid);

/// Milliseconds since `start` (for the record: tests assert no timing).
double msSince(std::int64_t startNs);
std::int64_t nowNs();

}  // namespace harness

#define HARNESS_CAT2(a, b) a##b
#define HARNESS_CAT(a, b) HARNESS_CAT2(a, b)

/// Declares a case run at the stages listed: `TEST_CASE(startup, 1, 2, 3)`.
#define TEST_CASE(name, ...)                                                              \
    static void name(int stage);                                                          \
    static const harness::Case HARNESS_CAT(case_, name)(#name, name, {__VA_ARGS__});      \
    static void name(int stage)

#define CHECK(cond)                                                \
    do {                                                           \
        if (!(cond)) {                                             \
            harness::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
        }                                                          \
    } while (false)

#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        const auto& harness_a = (a);                                                         \
        const auto& harness_b = (b);                                                         \
        if (!(harness_a == harness_b)) {                                                     \
            std::ostringstream harness_s;                                                    \
            harness_s << "CHECK_EQ(" #a ", " #b "): " << harness_a << " != " << harness_b; \
            harness::fail(__FILE__, __LINE__, harness_s.str());                              \
        }                                                                                    \
    } while (false)

#define FAIL(message) harness::fail(__FILE__, __LINE__, (message))

#endif  // IPC_LMMS_TESTS_HARNESS_H
