//! Shared regions: one mapping seen through two opens, names private and
//! removed once opened, headers validated.
#![cfg(not(miri))]

use ipc_channel_shm::{Error, Region};

#[test]
fn two_mappings_of_a_region_see_the_same_bytes() {
    let a = Region::create(10_000).unwrap();
    let name = a.connection_string().unwrap().to_owned();
    let b = Region::open(&name).unwrap();
    assert_eq!(b.len(), 10_000);
    assert_eq!(a.as_ptr() as usize % 128, 0);
    // SAFETY: both pointers cover 10 000 bytes of the same live mapping; this
    // single thread is the only user.
    unsafe {
        a.as_ptr().add(9_999).write_volatile(42);
        assert_eq!(b.as_ptr().add(9_999).read_volatile(), 42);
    }
    match Region::open(&name) {
        Err(Error::AlreadyClaimed) => {}
        // macOS: the opener removed the name.
        Err(Error::Os(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => panic!("opened once only, got {other:?}"),
    }
    // Withdrawn, nothing can reach it any more (on Linux the creator closed
    // the memfd's descriptor; on Windows a name lives as long as a handle),
    // and both mappings stay valid.
    a.withdraw().unwrap();
    #[cfg(target_os = "linux")]
    assert!(matches!(Region::open(&name), Err(Error::Os(_))));
    // SAFETY: as above; the mappings outlive the withdrawal.
    unsafe {
        b.as_ptr().write_volatile(7);
        assert_eq!(a.as_ptr().read_volatile(), 7);
    }
}

#[test]
fn a_region_with_a_bad_header_is_refused() {
    for (offset, what) in [(0usize, "magic"), (16, "total size"), (24, "data length")] {
        let a = Region::create(4096).unwrap();
        // SAFETY: the header precedes the data inside the same mapping; the
        // offsets are 8-aligned and within the first 128 bytes.
        unsafe {
            a.as_ptr()
                .sub(128)
                .add(offset)
                .cast::<u64>()
                .write_volatile(u64::MAX)
        };
        match Region::open(a.connection_string().unwrap()) {
            Err(Error::Corrupted(_)) => {}
            other => panic!("garbage in the {what}: expected Corrupted, got {other:?}"),
        }
    }
    assert!(matches!(Region::create(0), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        Region::open("../etc/passwd"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_read_only_opening_sees_the_writes_and_claims_nothing() {
    let a = Region::create(4096).unwrap();
    let name = a.connection_string().unwrap().to_owned();
    let reader = Region::open_read_only(&name).unwrap();
    assert!(reader.is_read_only());
    assert!(!a.is_read_only());
    assert_eq!(reader.len(), 4096);
    // SAFETY: both pointers cover 4096 bytes of the same live mapping; this
    // thread only writes through the creator's and reads through the other.
    unsafe {
        a.as_ptr().add(100).write_volatile(0x33);
        assert_eq!(reader.as_ptr().add(100).read_volatile(), 0x33);
    }
    // The mapping really is read-only: the kernel lists it without `w`.
    #[cfg(target_os = "linux")]
    {
        let at = reader.as_ptr() as usize & !4095;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|l| {
                let (start, end) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
                let start = usize::from_str_radix(start, 16).unwrap();
                let end = usize::from_str_radix(end, 16).unwrap();
                (start..end).contains(&at)
            })
            .expect("the mapping is listed");
        assert!(line.split(' ').nth(1).unwrap().starts_with("r-"), "{line}");
    }
    // Nothing was claimed: one read-write opener still may (not on macOS,
    // whose opener removes the name).
    #[cfg(not(target_os = "macos"))]
    {
        let writer = Region::open(&name).unwrap();
        assert!(!writer.is_read_only());
        assert!(matches!(Region::open(&name), Err(Error::AlreadyClaimed)));
    }
    assert!(matches!(
        Region::open_read_only("not-a-region"),
        Err(Error::InvalidArgument(_))
    ));
}
