// Process.cpp: starting, watching and killing the plugin process, with
// posix_spawn/waitpid (Linux, macOS, Winelib) or CreateProcess (Windows).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "Process.h"

#include <cstring>
#include <thread>

#if defined(_WIN32) && !defined(__WINE__)
#include <windows.h>
#else
#include <cerrno>
#include <csignal>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

namespace lmms {
namespace remote_ipc {

bool ChildProcess::waitFor(std::chrono::nanoseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

#if defined(_WIN32) && !defined(__WINE__)

namespace {

std::wstring widen(const std::string& s) {
    if (s.empty()) {
        return std::wstring();
    }
    const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring w(static_cast<size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &w[0], n);
    return w;
}

/// One argument quoted the way the C runtime splits a command line.
void appendQuoted(std::wstring& line, const std::wstring& arg) {
    if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
        line += arg;
        return;
    }
    line += L'"';
    size_t backslashes = 0;
    for (wchar_t c : arg) {
        if (c == L'\\') {
            ++backslashes;
            continue;
        }
        if (c == L'"') {
            line.append(backslashes * 2 + 1, L'\\');
        } else {
            line.append(backslashes, L'\\');
        }
        backslashes = 0;
        line += c;
    }
    line.append(backslashes * 2, L'\\');
    line += L'"';
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::string& program, const std::vector<std::string>& args,
                                                  std::string& error) {
    std::wstring line;
    appendQuoted(line, widen(program));
    for (const auto& a : args) {
        line += L' ';
        appendQuoted(line, widen(a));
    }
    const std::wstring exe = widen(program);
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    if (!CreateProcessW(exe.c_str(), &line[0], nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi)) {
        error = "cannot start " + program + " (error " + std::to_string(GetLastError()) + ")";
        return nullptr;
    }
    CloseHandle(pi.hThread);
    std::unique_ptr<ChildProcess> child(new ChildProcess());
    child->m_handle = pi.hProcess;
    child->m_pid = pi.dwProcessId;
    return child;
}

ChildProcess::~ChildProcess() {
    kill();
    if (m_handle != nullptr) {
        CloseHandle(m_handle);
    }
}

bool ChildProcess::running() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_exited && WaitForSingleObject(m_handle, 0) == WAIT_OBJECT_0) {
        m_exited = true;
    }
    return !m_exited;
}

void ChildProcess::kill() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_exited) {
        TerminateProcess(m_handle, 1);
        WaitForSingleObject(m_handle, INFINITE);
        m_exited = true;
    }
}

#else

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::string& program, const std::vector<std::string>& args,
                                                  std::string& error) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int r = posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
    if (r != 0) {
        error = "cannot start " + program + ": " + std::strerror(r);
        return nullptr;
    }
    std::unique_ptr<ChildProcess> child(new ChildProcess());
    child->m_pid = static_cast<std::uint32_t>(pid);
    return child;
}

ChildProcess::~ChildProcess() { kill(); }

bool ChildProcess::running() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_exited) {
        int status = 0;
        const pid_t r = waitpid(static_cast<pid_t>(m_pid), &status, WNOHANG);
        if (r == static_cast<pid_t>(m_pid) || (r < 0 && errno == ECHILD)) {
            m_exited = true;
        }
    }
    return !m_exited;
}

void ChildProcess::kill() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_exited) {
        ::kill(static_cast<pid_t>(m_pid), SIGKILL);
        int status = 0;
        while (waitpid(static_cast<pid_t>(m_pid), &status, 0) < 0 && errno == EINTR) {
        }
        m_exited = true;
    }
}

#endif

}  // namespace remote_ipc
}  // namespace lmms
