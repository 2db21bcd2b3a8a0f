// harness.cpp: the test runner (`lmms-adapter-tests [case [stage]]`) and
// the process helpers, for POSIX and Windows.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "harness.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>

#if defined(_WIN32)
#include <windows.h>
#else
#include <csignal>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

namespace harness {

namespace {

struct Entry {
    const char* name;
    void (*run)(int);
    std::vector<int> stages;
};

std::vector<Entry>& registry() {
    static std::vector<Entry> cases;
    return cases;
}

}  // namespace

Case::Case(const char* name, void (*run)(int), std::vector<int> stages) {
    registry().push_back({name, run, std::move(stages)});
}

void fail(const char* file, int line, const std::string& what) {
    std::ostringstream s;
    s << file << ":" << line << ": " << what;
    throw Failure(s.str());
}

std::string selfPath() {
#if defined(_WIN32)
    char buf[MAX_PATH];
    const DWORD n = GetModuleFileNameA(nullptr, buf, MAX_PATH);
    return std::string(buf, n);
#else
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        throw std::runtime_error("cannot find this program's path");
    }
    return std::string(buf, static_cast<size_t>(n));
#endif
}

std::string selfDir() {
    const std::string self = selfPath();
    const size_t slash = self.find_last_of("/\\");
    return slash == std::string::npos ? std::string(".") : self.substr(0, slash);
}

std::int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double msSince(std::int64_t startNs) { return static_cast<double>(nowNs() - startNs) / 1e6; }

#if defined(_WIN32)

Child::Child(const std::string& program, const std::vector<std::string>& args) {
    std::string line = "\"" + program + "\"";
    for (const auto& a : args) {
        line += " \"" + a + "\"";
    }
    STARTUPINFOA si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    if (!CreateProcessA(program.c_str(), &line[0], nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi)) {
        throw std::runtime_error("cannot start " + program);
    }
    CloseHandle(pi.hThread);
    m_handle = reinterpret_cast<std::intptr_t>(pi.hProcess);
    m_running = true;
}

Child::~Child() {
    kill();
    CloseHandle(reinterpret_cast<HANDLE>(m_handle));
}

void Child::kill() {
    if (m_running) {
        TerminateProcess(reinterpret_cast<HANDLE>(m_handle), 9);
        WaitForSingleObject(reinterpret_cast<HANDLE>(m_handle), INFINITE);
        m_running = false;
    }
}

bool processAlive(std::uint32_t pid) {
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, pid);
    if (h == nullptr) {
        return false;
    }
    const bool alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    CloseHandle(h);
    return alive;
}

#else

Child::Child(const std::string& program, const std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int r = posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
    if (r != 0) {
        throw std::runtime_error("posix_spawn " + program + ": " + std::strerror(r));
    }
    m_handle = pid;
    m_running = true;
}

Child::~Child() { kill(); }

void Child::kill() {
    if (m_running) {
        ::kill(static_cast<pid_t>(m_handle), SIGKILL);
        int status = 0;
        waitpid(static_cast<pid_t>(m_handle), &status, 0);
        m_running = false;
    }
}

bool processAlive(std::uint32_t pid) {
    if (::kill(static_cast<pid_t>(pid), 0) != 0) {
        return false;
    }
    // An exited process nobody reaped yet is gone all the same.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    const size_t paren = text.rfind(')');
    return paren == std::string::npos || paren + 2 >= text.size() || (text[paren + 2] != 'Z' && text[paren + 2] != 'X');
}

#endif

}  // namespace harness

int harnessPeerMain(int argc, char** argv);  // test_host.cpp: the other roles

int main(int argc, char** argv) {
    if (argc > 1 && (std::strncmp(argv[1], "--", 2) == 0 || std::strncmp(argv[1], "ipc-lmms:", 9) == 0)) {
        return harnessPeerMain(argc, argv);
    }
    const char* only = argc > 1 ? argv[1] : nullptr;
    const int onlyStage = argc > 2 ? std::atoi(argv[2]) : 0;
    size_t passed = 0;
    size_t failed = 0;
    for (const auto& c : harness::registry()) {
        if (only != nullptr && std::strcmp(only, c.name) != 0) {
            continue;
        }
        for (int stage : c.stages) {
            if (onlyStage != 0 && stage != onlyStage) {
                continue;
            }
            std::cout << "test stage" << stage << "." << c.name << " ... " << std::flush;
            const auto start = harness::nowNs();
            try {
                c.run(stage);
                std::cout << "ok (" << static_cast<long>(harness::msSince(start)) << " ms)" << std::endl;
                ++passed;
            } catch (const std::exception& e) {
                std::cout << "FAILED\n  " << e.what() << std::endl;
                ++failed;
            }
        }
    }
    std::cout << passed << " passed, " << failed << " failed" << std::endl;
    if (passed + failed == 0) {
        std::cout << "no test matched" << std::endl;
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
