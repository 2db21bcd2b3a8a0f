// Connect.cpp: choosing the stage (the host's option; the plugin reads it
// from argv[1]), and what every stage shares: the tempo/position block and
// the plugin's exit when its host dies.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "Endpoints.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lmms {
namespace remote_ipc {

std::unique_ptr<HostEndpoint> startHost(const std::string& program, const std::vector<std::string>& args,
                                        const HostOptions& options, std::string& error) {
    try {
        if (options.stage == Stage::links) {
            return startLinkHost(program, args, options, error);
        }
        return startChannelHost(program, args, options, error);
    } catch (const std::exception& e) {
        error = e.what();
        return nullptr;
    }
}

std::unique_ptr<PluginEndpoint> connectPlugin(const char* argument, std::string& error) {
    const std::size_t prefix = std::strlen(argumentPrefix);
    if (argument == nullptr || std::strncmp(argument, argumentPrefix, prefix) != 0 || argument[prefix] < '1' ||
        argument[prefix] > '3' || argument[prefix + 1] != ':') {
        error = std::string("argv[1] is not an LMMS connection (") + (argument != nullptr ? argument : "none") +
                "): start this program from LMMS";
        return nullptr;
    }
    const auto stage = static_cast<Stage>(argument[prefix] - '0');
    const std::string rest(argument + prefix + 2);
    try {
        if (stage == Stage::links) {
            return connectLinkPlugin(rest, error);
        }
        return connectChannelPlugin(stage, rest, error);
    } catch (const std::exception& e) {
        error = e.what();
        return nullptr;
    }
}

void hostGone() {
    std::fputs("RemotePluginClient: the host is gone: exiting\n", stderr);
    std::fflush(stderr);
    std::_Exit(EXIT_FAILURE);
}

std::string describe(ipc_result r) {
    std::string text = ipc::result_str(r);
    const std::string detail = ipc::last_error();
    if (!detail.empty() && detail != text) {
        text += ": " + detail;
    }
    return text;
}

bool SyncBlock::create(std::string& error) {
    auto r = ipc::Region::create(size);
    std::lock_guard<std::mutex> lock(m_mutex);
    m_region = std::move(r);
    m_key = m_region.connection_string();
    (void)error;
    return true;
}

void SyncBlock::write(const void* data, std::size_t n) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_region) {
        std::memcpy(m_region.data(), data, n < m_region.size() ? n : m_region.size());
    }
}

void SyncBlock::attached() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_region) {
        try {
            m_region.withdraw();
        } catch (const ipc::Error&) {
            // Still usable; it merely stays openable (by this user only).
        }
    }
}

const void* SyncMappings::attach(const std::string& key, std::size_t n, std::string& error) {
    auto region = ipc::Region::open(std::nothrow, key, true);
    if (!region) {
        error = describe(region.code());
        return nullptr;
    }
    if (region->size() < n) {
        error = "the tempo/position block is smaller than VstSyncData";
        return nullptr;
    }
    std::lock_guard<std::mutex> lock(m_mutex);
    m_regions.push_back(std::move(*region));
    return m_regions.back().data();
}

}  // namespace remote_ipc
}  // namespace lmms
