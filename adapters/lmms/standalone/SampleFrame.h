// SampleFrame.h (stand-in): LMMS's stereo frame, for builds outside LMMS's
// tree. Same name and layout as LMMS's include/SampleFrame.h (two
// `sample_t` in a std::array, left then right, nothing else), with the
// accessors the adapter and the tests use.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_SAMPLEFRAME_H
#define LMMS_SAMPLEFRAME_H

#include "LmmsTypes.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace lmms {

class SampleFrame {
public:
    SampleFrame() : SampleFrame(0.f, 0.f) {}
    explicit SampleFrame(sample_t value) : SampleFrame(value, value) {}
    SampleFrame(sample_t left, sample_t right) : m_samples({left, right}) {}

    sample_t* data() { return m_samples.data(); }
    const sample_t* data() const { return m_samples.data(); }

    sample_t& left() { return m_samples[0]; }
    const sample_t& left() const { return m_samples[0]; }
    void setLeft(const sample_t& value) { m_samples[0] = value; }
    sample_t& right() { return m_samples[1]; }
    const sample_t& right() const { return m_samples[1]; }
    void setRight(const sample_t& value) { m_samples[1] = value; }

    sample_t& operator[](std::size_t index) { return m_samples[index]; }
    const sample_t& operator[](std::size_t index) const { return m_samples[index]; }

private:
    std::array<sample_t, 2> m_samples;
};

static_assert(sizeof(SampleFrame) == 2 * sizeof(sample_t), "a frame is two interleaved samples");

inline void zeroSampleFrames(SampleFrame* buffer, std::size_t frames) {
    std::fill(buffer, buffer + frames, SampleFrame());
}

}  // namespace lmms

#endif  // LMMS_SAMPLEFRAME_H
