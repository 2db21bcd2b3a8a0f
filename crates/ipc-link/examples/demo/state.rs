//! The synthesizer's saved state: a small header with its parameters, then
//! a large deterministic body derived from them (standing in for the
//! multi-megabyte "chunks" real plugins save), so that either side can check
//! every byte without keeping a copy. The header carries the state's
//! length: this plugin saves 64 MiB, and a state of another length (the
//! C++ plugin of `examples/cpp/` saves 32 MiB) loads as long as its header
//! says so.

/// Size of a state this plugin saves: 64 MiB.
pub const STATE_LEN: usize = 64 << 20;
const MAGIC: &[u8; 8] = b"DEMOSYN1";
const HEADER: usize = 24;

/// The parameters a state carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Cut-off of the low-pass filter, in Hz.
    pub filter_hz: f32,
    /// Output gain.
    pub volume: f32,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn seed(params: &Params) -> u64 {
    splitmix64(u64::from(params.filter_hz.to_bits()) << 32 | u64::from(params.volume.to_bits()))
}

/// Body word `i` of the state of `params`.
fn word(seed: u64, i: usize) -> u64 {
    splitmix64(seed ^ (i as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

/// Builds the state of `params`.
pub fn save(params: &Params) -> Vec<u8> {
    let mut blob = vec![0u8; STATE_LEN];
    blob[..8].copy_from_slice(MAGIC);
    blob[8..12].copy_from_slice(&params.filter_hz.to_le_bytes());
    blob[12..16].copy_from_slice(&params.volume.to_le_bytes());
    blob[16..24].copy_from_slice(&(STATE_LEN as u64).to_le_bytes());
    let seed = seed(params);
    for (i, chunk) in blob[HEADER..].chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&word(seed, i).to_le_bytes());
    }
    blob
}

/// Checks every byte of `blob` against the state its header describes
/// (its length included); returns the parameters, or where it differs.
pub fn load(blob: &[u8]) -> Result<Params, String> {
    if blob.len() < HEADER || (blob.len() - HEADER) % 8 != 0 {
        return Err(format!(
            "{} bytes: not a state of this synthesizer",
            blob.len()
        ));
    }
    if &blob[..8] != MAGIC {
        return Err("not a state of this synthesizer".into());
    }
    let claimed = u64::from_le_bytes(blob[16..24].try_into().expect("8 bytes"));
    if claimed != blob.len() as u64 {
        return Err(format!("{} bytes, its header says {claimed}", blob.len()));
    }
    let f32_at = |at: usize| f32::from_le_bytes(blob[at..at + 4].try_into().expect("4 bytes"));
    let params = Params {
        filter_hz: f32_at(8),
        volume: f32_at(12),
    };
    let seed = seed(&params);
    for (i, chunk) in blob[HEADER..].chunks_exact(8).enumerate() {
        let expected = word(seed, i).to_le_bytes();
        if chunk != expected {
            let byte = chunk.iter().zip(expected).position(|(a, b)| *a != b);
            let offset = HEADER + i * 8 + byte.unwrap_or(0);
            return Err(format!("byte {offset} differs"));
        }
    }
    Ok(params)
}

/// A 64-bit checksum of `bytes` (both sides compute it to compare).
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    h
}
