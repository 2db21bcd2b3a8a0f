//! Gives the shared library an ELF soname that follows the ABI version, so
//! that programs linked against `libipc.so` load the `libipc.so.0.1` that
//! `cargo xtask install` puts next to it (CMake and pkg-config then link the
//! usual way). Before 1.0 every minor version may break the ABI, so it is
//! part of the soname; from 1.0 on only the major version is.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    );
    if elf {
        let major = env("CARGO_PKG_VERSION_MAJOR");
        let minor = env("CARGO_PKG_VERSION_MINOR");
        let abi = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libipc.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"))
}
