// demo_synth.hpp: the C++ plugin's synthesizer, the same instrument as the
// Rust demo's (crates/ipc-link/examples/demo/synth.rs): eight voices (saw
// below middle C, sine from there up), each with an attack-decay-sustain-
// release envelope and a stereo pan that follows the key, and a one-pole
// low-pass whose cut-off follows the last note played. Allocation-free:
// it lives on the real-time thread.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_DEMO_SYNTH_HPP
#define IPC_DEMO_SYNTH_HPP

#include "demo_protocol.hpp"
#include "demo_state.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace demo {

class Synth {
public:
    explicit Synth(Params params) noexcept : params_(params) { set_filter(params.filter_hz); }

    Params params() const noexcept { return params_; }

    void set_filter(float hz) noexcept {
        params_.filter_hz = hz;
        coeff_ = 1.0f - std::exp(-2.0f * pi * hz / static_cast<float>(sample_rate));
    }

    /// Starts a note (stealing the quietest voice if all sound); the filter
    /// follows the note. Returns the new cut-off.
    float note_on(uint8_t key, uint8_t velocity) noexcept {
        size_t slot = voices_.size();
        for (size_t i = 0; i < voices_.size(); ++i) {
            if (voices_[i].stage == Stage::off) {
                slot = i;
                break;
            }
        }
        if (slot == voices_.size()) {
            slot = 0;
            for (size_t i = 1; i < voices_.size(); ++i) {
                if (voices_[i].level < voices_[slot].level) {
                    slot = i;
                }
            }
        }
        const float k = static_cast<float>(key);
        const float freq = 440.0f * std::pow(2.0f, (k - 69.0f) / 12.0f);
        const float pan = std::clamp((k - 60.0f) / 24.0f, -1.0f, 1.0f) * 0.7f;
        Voice& v = voices_[slot];
        v.key = key;
        v.stage = Stage::attack;
        v.level = 0.0f;
        v.velocity = static_cast<float>(velocity) / 127.0f;
        v.phase = 0.0f;
        v.step = freq / static_cast<float>(sample_rate);
        v.saw = key < 60;
        v.gain_left = (1.0f - pan) * 0.5f;
        v.gain_right = (1.0f + pan) * 0.5f;
        const float cutoff = std::clamp(300.0f + (k - 36.0f) * 60.0f + static_cast<float>(velocity) * 20.0f,
                                        200.0f, 12000.0f);
        set_filter(cutoff);
        return cutoff;
    }

    /// Releases every voice playing `key`.
    void note_off(uint8_t key) noexcept {
        for (Voice& v : voices_) {
            if (v.key == key && v.stage != Stage::off) {
                v.stage = Stage::release;
            }
        }
    }

    /// Voices sounding.
    uint32_t voices() const noexcept {
        uint32_t n = 0;
        for (const Voice& v : voices_) {
            n += v.stage != Stage::off ? 1 : 0;
        }
        return n;
    }

    /// Renders `frames` (at most max_frames) into `left` and `right`.
    void render(float* left, float* right, size_t frames) noexcept {
        std::fill(left, left + frames, 0.0f);
        std::fill(right, right + frames, 0.0f);
        const float rate = static_cast<float>(sample_rate);
        const float attack = 1.0f / (attack_s * rate);
        const float decay = (1.0f - sustain) / (decay_s * rate);
        const float release = sustain / (release_s * rate);
        for (Voice& v : voices_) {
            for (size_t i = 0; i < frames && v.stage != Stage::off; ++i) {
                switch (v.stage) {
                case Stage::attack:
                    v.level += attack;
                    if (v.level >= 1.0f) {
                        v.level = 1.0f;
                        v.stage = Stage::decay;
                    }
                    break;
                case Stage::decay:
                    v.level -= decay;
                    if (v.level <= sustain) {
                        v.level = sustain;
                        v.stage = Stage::sustain;
                    }
                    break;
                case Stage::sustain:
                    break;
                case Stage::release:
                    v.level -= release;
                    if (v.level <= 0.0f) {
                        v.level = 0.0f;
                        v.stage = Stage::off;
                        continue;
                    }
                    break;
                case Stage::off:
                    break;
                }
                const float osc = v.saw ? 2.0f * v.phase - 1.0f : std::sin(2.0f * pi * v.phase);
                v.phase += v.step;
                if (v.phase >= 1.0f) {
                    v.phase -= 1.0f;
                }
                const float x = osc * v.level * v.velocity * 0.3f;
                left[i] += x * v.gain_left;
                right[i] += x * v.gain_right;
            }
        }
        const float k = coeff_;
        const float gain = params_.volume;
        for (size_t i = 0; i < frames; ++i) {
            low_left_ += k * (left[i] - low_left_);
            low_right_ += k * (right[i] - low_right_);
            left[i] = low_left_ * gain;
            right[i] = low_right_ * gain;
        }
    }

private:
    static constexpr float pi = 3.14159265358979f;
    static constexpr float attack_s = 0.005f;
    static constexpr float decay_s = 0.12f;
    static constexpr float sustain = 0.6f;
    static constexpr float release_s = 0.18f;

    enum class Stage { off, attack, decay, sustain, release };

    struct Voice {
        uint8_t key = 0;
        Stage stage = Stage::off;
        float level = 0;
        float velocity = 0;
        float phase = 0;
        float step = 0;
        bool saw = false;
        float gain_left = 0;
        float gain_right = 0;
    };

    std::array<Voice, 8> voices_{};
    Params params_;
    float coeff_ = 1.0f;
    float low_left_ = 0.0f;
    float low_right_ = 0.0f;
};

}  // namespace demo

#endif  // IPC_DEMO_SYNTH_HPP
