// harness.cpp: the test runner, child processes and the allocation
// counters (a replaced global operator new, and a counting malloc).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "harness.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace harness {

namespace {

struct Entry {
    const char* name;
    void (*run)();
};

std::vector<Entry>& registry() {
    static std::vector<Entry> cases;
    return cases;
}

thread_local bool counting = false;
thread_local AllocationStats counted;
thread_local bool counting_mallocs = false;
thread_local size_t mallocs = 0;

}  // namespace

Case::Case(const char* name, void (*run)()) { registry().push_back({name, run}); }

void fail(const char* file, int line, const std::string& what) {
    std::ostringstream s;
    s << file << ":" << line << ": " << what;
    throw Failure(s.str());
}

std::string self_path() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        throw std::runtime_error("cannot find this program's path");
    }
    return std::string(buf, static_cast<size_t>(n));
}

std::string wire_vectors_path() {
    const char* env = std::getenv("IPC_WIRE_VECTORS");
    if (env != nullptr && *env != '\0') {
        return env;
    }
    return IPC_WIRE_VECTORS_DEFAULT;
}

std::string hostile_peer_path() {
    const char* env = std::getenv("IPC_HOSTILE_PEER");
    if (env != nullptr && *env != '\0') {
        return env;
    }
    return IPC_HOSTILE_PEER_DEFAULT;
}

std::string source_dir() { return IPC_SOURCE_DIR; }

std::string run_command(const std::string& command, int& status) {
    FILE* p = popen(command.c_str(), "r");
    if (p == nullptr) {
        throw std::runtime_error("cannot run " + command);
    }
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        out.append(buf, n);
    }
    int raw = pclose(p);
    status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return out;
}

Child::Child(const std::vector<std::string>& args) {
    std::string self = self_path();
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(self.c_str()));
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    int r = posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), environ);
    if (r != 0) {
        throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(r));
    }
    pid_ = pid;
}

Child::~Child() {
    if (pid_ > 0) {
        kill(static_cast<pid_t>(pid_), SIGKILL);
        int status = 0;
        waitpid(static_cast<pid_t>(pid_), &status, 0);
    }
}

int Child::wait() {
    int status = 0;
    if (waitpid(static_cast<pid_t>(pid_), &status, 0) < 0) {
        throw std::runtime_error("waitpid failed");
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

CountAllocations::CountAllocations() {
    counted = AllocationStats{};
    counting = true;
}
CountAllocations::~CountAllocations() { counting = false; }
AllocationStats CountAllocations::stats() const { return counted; }

CountMallocs::CountMallocs() {
    mallocs = 0;
    counting_mallocs = true;
}
CountMallocs::~CountMallocs() { counting_mallocs = false; }
size_t CountMallocs::count() const { return mallocs; }

/// Counts one allocation of the calling thread, if it counts.
void note_malloc() noexcept {
    if (counting_mallocs) {
        ++mallocs;
    }
}

std::string hex(const std::vector<uint8_t>& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 15]);
    }
    return s;
}

std::vector<uint8_t> unhex(const std::string& text) {
    if (text.size() % 2 != 0) {
        throw std::runtime_error("odd hex");
    }
    std::vector<uint8_t> out(text.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<uint8_t>(std::stoul(text.substr(2 * i, 2), nullptr, 16));
    }
    return out;
}

}  // namespace harness

// The allocation counter: every C++ allocation of the process goes through
// here; the threads that asked count theirs.
namespace {
void* allocate(std::size_t size) {
    if (harness::counting) {
        ++harness::counted.count;
        if (size > harness::counted.largest) {
            harness::counted.largest = size;
        }
    }
    return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

void* operator new(std::size_t size) {
    if (void* p = allocate(size)) {
        return p;
    }
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

// The malloc counter. Under AddressSanitizer its allocator is the malloc:
// it calls a hook on every allocation. Elsewhere on glibc this program's
// malloc family counts and forwards to glibc's own entry points (the
// library's Rust code, statically linked, allocates through them too).
#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_ASAN 1
#endif
#endif

#if defined(HARNESS_ASAN)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                                        void (*free_hook)(const volatile void*));
namespace {
void malloc_hook(const volatile void*, std::size_t) { harness::note_malloc(); }
void free_hook(const volatile void*) {}
const bool hooked = __sanitizer_install_malloc_and_free_hooks(malloc_hook, free_hook) != 0;
}  // namespace
bool harness::CountMallocs::supported() { return hooked; }
#elif defined(__GLIBC__)
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t size) {
    harness::note_malloc();
    return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
    harness::note_malloc();
    return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
    harness::note_malloc();
    return __libc_realloc(p, size);
}
void free(void* p) { __libc_free(p); }
void* memalign(std::size_t align, std::size_t size) {
    harness::note_malloc();
    return __libc_memalign(align, size);
}
void* aligned_alloc(std::size_t align, std::size_t size) {
    harness::note_malloc();
    return __libc_memalign(align, size);
}
int posix_memalign(void** out, std::size_t align, std::size_t size) {
    if (align < sizeof(void*) || (align & (align - 1)) != 0) {
        return EINVAL;
    }
    harness::note_malloc();
    void* p = __libc_memalign(align, size);
    if (p == nullptr) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}
}
bool harness::CountMallocs::supported() { return true; }
#else
bool harness::CountMallocs::supported() { return false; }
#endif

int harness_peer_main(int argc, char** argv);  // the peers' modes (peers.cpp)

int main(int argc, char** argv) {
    if (argc > 1 && std::strncmp(argv[1], "--", 2) == 0) {
        return harness_peer_main(argc, argv);
    }
    size_t passed = 0;
    size_t failed = 0;
    for (const auto& c : harness::registry()) {
        bool selected = argc <= 1;
        for (int i = 1; i < argc; ++i) {
            if (std::strstr(c.name, argv[i]) != nullptr) {
                selected = true;
            }
        }
        if (!selected) {
            continue;
        }
        std::cout << "test " << c.name << " ... " << std::flush;
        try {
            c.run();
            std::cout << "ok" << std::endl;
            ++passed;
        } catch (const std::exception& e) {
            std::cout << "FAILED\n  " << e.what() << std::endl;
            ++failed;
        }
    }
    std::cout << passed << " passed, " << failed << " failed" << std::endl;
    if (passed + failed == 0) {
        std::cout << "no test matched" << std::endl;
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
