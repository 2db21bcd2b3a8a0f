// Process.h: the plugin process at stages 1 and 2 (stage 3 has libipc's
// own): start it with an argument list, tell whether it runs, kill it.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_PROCESS_H
#define IPC_LMMS_PROCESS_H

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lmms {
namespace remote_ipc {

class ChildProcess {
public:
    /// Starts `program` with `args` (argv[1] onwards), sharing this
    /// process's standard streams and environment; null on failure.
    static std::unique_ptr<ChildProcess> spawn(const std::string& program, const std::vector<std::string>& args,
                                               std::string& error);
    /// Kills and reaps it if it still runs.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// Whether it still runs (reaps it once it has exited).
    bool running();
    /// Waits at most `timeout` for it to exit; whether it did.
    bool waitFor(std::chrono::nanoseconds timeout);
    /// Kills it at once and reaps it.
    void kill();
    std::uint32_t pid() const { return m_pid; }

private:
    ChildProcess() = default;

    std::mutex m_mutex;
    std::uint32_t m_pid = 0;
    bool m_exited = false;
#if defined(_WIN32) && !defined(__WINE__)
    void* m_handle = nullptr;
#endif
};

}  // namespace remote_ipc
}  // namespace lmms

#endif  // IPC_LMMS_PROCESS_H
