// spsc.hpp: a fixed-size single-producer single-consumer queue of plain
// values, for what a real-time thread exchanges with the others: pushing
// and popping allocate nothing, take no lock and never wait (a full queue
// drops the value, as the Rust demo's bounded channels do).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_DEMO_SPSC_HPP
#define IPC_DEMO_SPSC_HPP

#include <array>
#include <atomic>
#include <cstddef>
#include <optional>
#include <type_traits>

namespace demo {

template <class T, size_t N>
class Spsc {
    static_assert((N & (N - 1)) == 0, "a power of two");
    static_assert(std::is_trivially_copyable_v<T>, "plain values only");

public:
    /// From the one producer thread: whether there was room.
    bool push(const T& value) noexcept {
        const size_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_.load(std::memory_order_acquire) == N) {
            return false;
        }
        slots_[tail % N] = value;
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    /// From the one consumer thread.
    std::optional<T> pop() noexcept {
        const size_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) {
            return std::nullopt;
        }
        T value = slots_[head % N];
        head_.store(head + 1, std::memory_order_release);
        return value;
    }

private:
    std::array<T, N> slots_{};
    alignas(64) std::atomic<size_t> head_{0};
    alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace demo

#endif  // IPC_DEMO_SPSC_HPP
