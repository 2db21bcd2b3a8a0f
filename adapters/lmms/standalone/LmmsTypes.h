// LmmsTypes.h (stand-in): the integer and sample types of LMMS's
// include/LmmsTypes.h that the adapter and the remote programs use, with
// the same names and widths, for builds outside LMMS's tree (this
// project's tests). Inside LMMS's tree LMMS's own header is found first
// and this directory is not on the include path.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_TYPES_H
#define LMMS_TYPES_H

#include <cstdint>

/// Set by every stand-in header: the adapter was built outside LMMS.
#define IPC_LMMS_STANDALONE 1

namespace lmms {

using sample_t = float;              // one sample
using sample_rate_t = std::uint32_t; // a sample rate
using f_cnt_t = std::uint64_t;       // a count of frames
using ch_cnt_t = std::uint16_t;      // a count of channels
using bpm_t = std::uint16_t;         // a tempo

}  // namespace lmms

#endif  // LMMS_TYPES_H
