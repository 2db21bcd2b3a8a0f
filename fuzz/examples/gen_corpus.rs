//! Writes the seed corpus of the `decode` fuzz target: valid messages of
//! every kind, one file each (a few files hold several messages), into
//! `fuzz/corpus/decode/`, replacing what is there.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`
//!
//! Most seeds are what `slice::to_vec` writes; a few are hand-written MessagePack
//! in forms the encoder does not produce but the decoder accepts (structs as
//! maps, enum variants by index, wider integer markers, trailing fields).

use ipc_msgpack::{slice, Flags, Header, Message, HEADER_LEN};
use ipc_msgpack_fuzz::{
    check, Blob, Command, Everything, Marker, Numbers, Outcome, Samples, Text, Tuples, F32, F64,
    KINDS,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn msg<M: Message + ?Sized>(m: &M) -> Vec<u8> {
    slice::to_vec(m, 0, Flags::NONE).expect("seed encodes")
}

/// An envelope with `id` around a hand-written payload.
fn raw(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Header::new(id, payload.len() as u32).to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The same message under another ID of the same kind, with a correlation
/// number and flags.
fn retag(mut bytes: Vec<u8>, id: u32, correlation: u32, flags: Flags) -> Vec<u8> {
    let len = bytes.len() - HEADER_LEN;
    let header = Header {
        id,
        correlation,
        flags,
        len: len as u32,
    };
    bytes[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    bytes
}

fn fixstr(s: &str) -> Vec<u8> {
    assert!(s.len() < 32);
    let mut v = vec![0xa0 | s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn text_full() -> Text {
    Text {
        name: "ZynAddSubFX".into(),
        note: Some("preset: Pads/Warm".into()),
        grid: vec![vec![1, 2, 3], vec![], vec![u32::MAX]],
        counts: BTreeMap::from([
            ("voices".into(), 16),
            ("latency".into(), -256),
            (String::new(), i64::MIN),
        ]),
        initial: 'Z',
    }
}

fn numbers_max() -> Numbers {
    Numbers {
        a: u8::MAX,
        b: u16::MAX,
        c: u32::MAX,
        d: u64::MAX,
        e: i8::MAX,
        f: i16::MAX,
        g: i32::MAX,
        h: i64::MAX,
        x: F32(f32::MAX),
        y: F64(f64::MAX),
        on: true,
        pad: [0xff; 4],
        wide: i128::MIN,
        uwide: u128::MAX,
    }
}

fn note_chain(depth: usize) -> Command {
    let mut c = Command::Stop;
    for i in 0..depth {
        c = Command::Note {
            key: i as u8,
            velocity: F32(i as f32 / 10.0),
            then: Some(Box::new(c)),
        };
    }
    c
}

#[allow(clippy::vec_init_then_push)] // one `push` per seed reads best
fn main() {
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();

    // Kind 0: numbers.
    seeds.push(("numbers-zero", msg(&Numbers::default())));
    seeds.push(("numbers-max", msg(&numbers_max())));
    seeds.push((
        "numbers-min",
        msg(&Numbers {
            e: i8::MIN,
            f: i16::MIN,
            g: i32::MIN,
            h: i64::MIN,
            x: F32(f32::MIN_POSITIVE),
            y: F64(f64::MIN),
            ..Numbers::default()
        }),
    ));
    seeds.push((
        "numbers-typical",
        msg(&Numbers {
            a: 60,
            b: 300,
            c: 70_000,
            d: 1 << 40,
            e: -5,
            f: -300,
            g: -70_000,
            h: -(1 << 40),
            x: F32(0.8),
            y: F64(-1e-300),
            on: true,
            pad: [1, 2, 3, 4],
            wide: -5,
            uwide: 7,
        }),
    ));
    seeds.push((
        "numbers-special-floats",
        msg(&Numbers {
            x: F32(f32::NAN),
            y: F64(f64::NEG_INFINITY),
            ..Numbers::default()
        }),
    ));
    // Wider integer markers than needed, a float64 for the f32 field, an
    // integer for the f64 field.
    let mut wide = vec![
        0x9e, 0xcd, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xcb,
    ];
    wide.extend_from_slice(&0.5f64.to_be_bytes());
    // ... and plain integers for the two 128-bit fields.
    wide.extend_from_slice(&[0x05, 0xc3, 0x94, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07]);
    seeds.push(("numbers-wide-markers", raw(0, &wide)));

    // Kind 1: strings, options, nested vectors, maps.
    seeds.push((
        "text-empty",
        msg(&Text {
            initial: 'a',
            ..Text::default()
        }),
    ));
    seeds.push(("text-full", msg(&text_full())));
    seeds.push((
        "text-unicode",
        msg(&Text {
            name: "Grüße ♫ 音".into(),
            note: Some(String::new()),
            grid: vec![vec![]; 3],
            counts: BTreeMap::from([("ключ".into(), 1)]),
            initial: '♫',
        }),
    ));
    seeds.push((
        "text-long",
        msg(&Text {
            name: "x".repeat(300),
            note: Some("y".repeat(40)),
            grid: vec![(0..20).collect(), vec![0; 17]],
            counts: (0..20)
                .map(|i| (format!("k{i}"), i64::from(i) * 1000))
                .collect(),
            initial: '\u{10FFFF}',
        }),
    ));
    // A struct as a map (field names), `note` left out.
    let as_map = cat(&[
        &[0x84],
        &fixstr("name"),
        &fixstr("x"),
        &fixstr("grid"),
        &[0x91, 0x91, 0x01],
        &fixstr("counts"),
        &[0x81],
        &fixstr("k"),
        &[0xff],
        &fixstr("initial"),
        &fixstr("z"),
    ]);
    seeds.push(("text-struct-as-map", raw(1, &as_map)));
    // A `bin` where a string is expected; an ID of the same kind (1 + 7).
    let bin_name = [
        0x95, 0xc4, 0x03, b'a', b'b', b'c', 0xc0, 0x90, 0x80, 0xa1, b'q',
    ];
    seeds.push(("text-bin-name-id8", raw(1 + KINDS, &bin_name)));

    // Kind 2: byte strings.
    seeds.push(("blob-empty", msg(&Blob::default())));
    seeds.push((
        "blob-small",
        msg(&Blob {
            id: 7,
            data: vec![0, 1, 2, 0xff],
            extra: Some(vec![]),
        }),
    ));
    let big: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    seeds.push((
        "blob-1000",
        msg(&Blob {
            id: 1000,
            data: big.clone(),
            extra: Some(big[..300].to_vec()),
        }),
    ));
    // A newer peer's extra trailing field.
    seeds.push((
        "blob-trailing-field",
        raw(2, &[0x94, 0x01, 0xc4, 0x00, 0xc0, 0x2a]),
    ));

    // Kind 3: enum variants.
    seeds.push(("command-unit", msg(&Command::Stop)));
    seeds.push(("command-newtype", msg(&Command::Gain(F32(0.5)))));
    seeds.push(("command-tuple", msg(&Command::Move(-1, 1 << 20))));
    seeds.push((
        "command-struct",
        msg(&Command::Note {
            key: 60,
            velocity: F32(1.0),
            then: Some(Box::new(Command::Stop)),
        }),
    ));
    seeds.push((
        "command-batch",
        msg(&Command::Batch(vec![
            Command::Stop,
            Command::Gain(F32(-0.0)),
            Command::Move(0, 0),
            Command::Note {
                key: 0,
                velocity: F32(0.0),
                then: None,
            },
            Command::Batch(vec![]),
        ])),
    ));
    seeds.push(("command-nested-10", msg(&note_chain(10))));
    seeds.push(("command-by-index", raw(3, &[0x81, 0x02, 0x92, 0xff, 0x01])));
    seeds.push((
        "command-unit-as-map",
        raw(3, &cat(&[&[0x81], &fixstr("Stop"), &[0xc0]])),
    ));
    seeds.push(("command-unit-by-index", raw(3, &[0x00])));

    // Kind 4: nested tuples.
    seeds.push(("tuples-default", msg(&Tuples::default())));
    seeds.push((
        "tuples-full",
        msg(&Tuples(
            (200, (-2, ("inner".into(), (true, u64::MAX)))),
            [1, 300, u16::MAX],
            vec![(1, None), (2, Some(-1)), (3, Some(i64::MAX))],
        )),
    ));

    // Kind 5: samples for FramesInto.
    seeds.push(("frames-empty", msg(&Samples(&[]))));
    seeds.push(("frames-one", msg(&Samples(&[0.25]))));
    let full: Vec<f32> = (0..64).map(|i| (i as f32 * 0.1).sin()).collect();
    seeds.push(("frames-64", msg(&Samples(&full))));
    let mut mixed = vec![0x93, 0x01, 0xcb];
    mixed.extend_from_slice(&0.25f64.to_be_bytes());
    mixed.push(0xca);
    mixed.extend_from_slice(&(-1f32).to_be_bytes());
    seeds.push(("frames-mixed-numbers", raw(5, &mixed)));

    // Kind 6: everything.
    seeds.push(("everything-default", msg(&Everything::default())));
    let everything = Everything {
        numbers: numbers_max(),
        text: Some(text_full()),
        blobs: vec![
            Blob::default(),
            Blob {
                id: 1,
                data: vec![9; 40],
                extra: None,
            },
        ],
        commands: vec![Command::Stop, note_chain(3), Command::Move(5, -5)],
        tuples: Tuples(
            (1, (2, ("t".into(), (false, 4)))),
            [5, 6, 7],
            vec![(8, Some(9))],
        ),
        samples: vec![F32(1.0), F32(-1.0), F32(f32::INFINITY)],
        marker: Marker,
    };
    seeds.push(("everything-full", msg(&everything)));

    // Several messages in one stream, with correlation numbers and flags.
    let conversation = [
        retag(msg(&Command::Gain(F32(0.7))), 3, 1, Flags::REQUEST),
        retag(msg(&Numbers::default()), 7, 1, Flags::REPLY),
        msg(&Samples(&full[..8])),
        retag(
            msg(&Text {
                name: "bad preset".into(),
                initial: '!',
                ..Text::default()
            }),
            8,
            2,
            Flags::REPLY | Flags::ERROR,
        ),
        msg(&Blob {
            id: 3,
            data: vec![1, 2, 3],
            extra: None,
        }),
        msg(&Tuples::default()),
        msg(&everything),
    ]
    .concat();
    seeds.push(("stream-conversation", conversation));
    seeds.push((
        "stream-repeated",
        [
            msg(&Command::Stop),
            msg(&Command::Stop),
            msg(&Command::Stop),
        ]
        .concat(),
    ));
    seeds.push((
        "stream-empty-payloads",
        [
            msg(&Samples(&[])),
            msg(&Blob::default()),
            msg(&Text::default()),
        ]
        .concat(),
    ));

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/decode");
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("clear the old corpus");
    }
    fs::create_dir_all(&dir).expect("create corpus/decode");
    let mut total = 0;
    for (name, bytes) in &seeds {
        // Every seed must be a valid message stream: check it decodes.
        let outcomes = check(bytes);
        assert!(
            !outcomes.is_empty() && outcomes.iter().all(|o| matches!(o, Outcome::Decoded(_))),
            "seed {name} does not decode: {outcomes:?}"
        );
        fs::write(dir.join(name), bytes).expect("write seed");
        total += bytes.len();
    }
    println!(
        "wrote {} seeds, {total} bytes, to {}",
        seeds.len(),
        dir.display()
    );
}
