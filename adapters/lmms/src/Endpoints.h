// Endpoints.h: what the endpoint sources share: the factories of each
// stage, the tempo/position block and the plugin's reaction to its host's
// death.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_ENDPOINTS_H
#define IPC_LMMS_ENDPOINTS_H

#include "RemotePluginIpc.h"
#include "Wire.h"

#include <mutex>

namespace lmms {
namespace remote_ipc {

/// The prefix of argv[1]: "ipc-lmms:<stage>:<rest>".
constexpr const char* argumentPrefix = "ipc-lmms:";

/// Stages 1 and 2 (channels.cpp).
std::unique_ptr<HostEndpoint> startChannelHost(const std::string& program, const std::vector<std::string>& args,
                                               const HostOptions& options, std::string& error);
std::unique_ptr<PluginEndpoint> connectChannelPlugin(Stage stage, const std::string& connection, std::string& error);

/// Stage 3 (links.cpp).
std::unique_ptr<HostEndpoint> startLinkHost(const std::string& program, const std::vector<std::string>& args,
                                            const HostOptions& options, std::string& error);
std::unique_ptr<PluginEndpoint> connectLinkPlugin(const std::string& rest, std::string& error);

/// The plugin's host died: the plugin process ends now (it must not
/// outlive its host).
[[noreturn]] void hostGone();

/// The host's tempo/position block: a small shared region the plugin maps
/// read-only, large enough for VstSyncData on every ABI.
class SyncBlock {
public:
    static constexpr std::size_t size = 256;

    bool create(std::string& error);
    std::string key() const { return m_key; }
    void write(const void* data, std::size_t size);
    /// The plugin mapped it: nobody else may open it.
    void attached();

private:
    ipc::Region m_region;
    std::string m_key;
    std::mutex m_mutex;
};

/// The plugin's mappings of tempo/position blocks (kept until the end:
/// the plugin holds a pointer to the latest).
class SyncMappings {
public:
    const void* attach(const std::string& key, std::size_t size, std::string& error);

private:
    std::mutex m_mutex;
    std::vector<ipc::Region> m_regions;
};

/// Describes a failed libipc call.
std::string describe(ipc_result r);

}  // namespace remote_ipc
}  // namespace lmms

#endif  // IPC_LMMS_ENDPOINTS_H
