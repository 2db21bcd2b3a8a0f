//! The NULL-argument test of the C interface, generated from `ipc.h`: every
//! function is called once per pointer parameter, with that one NULL and
//! every other pointer a non-NULL address that is never mapped (so a
//! library that touched one before checking them all would crash), and must
//! return `IPC_NULL_ARGUMENT`; every `void` `_free` function is called with
//! NULL, which must do nothing. `void *user`-like parameters are data the
//! library passes through, never checked: they are NULL throughout.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// One parameter of a C function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    /// Its type as the header spells it (`const ipc_segment *`).
    pub(crate) ty: String,
    pub(crate) name: String,
}

/// One function declared in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    pub(crate) ret: String,
    pub(crate) name: String,
    pub(crate) params: Vec<Param>,
}

/// How the test treats a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A pointer or a function pointer: checked for NULL.
    Pointer,
    /// `void *user` data: passed through, so never checked.
    Data,
    /// A number, a flag: 0.
    Scalar,
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The header without comments and preprocessor lines.
fn code_lines(header: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in header.lines() {
        let mut line = line;
        if in_block {
            match line.find("*/") {
                Some(end) => {
                    in_block = false;
                    line = &line[end + 2..];
                }
                None => continue,
            }
        }
        let mut kept = String::new();
        let mut rest = line;
        loop {
            match (rest.find("//"), rest.find("/*")) {
                (Some(a), b) if b.is_none_or(|b| a < b) => {
                    kept.push_str(&rest[..a]);
                    break;
                }
                (_, Some(b)) => {
                    kept.push_str(&rest[..b]);
                    match rest[b + 2..].find("*/") {
                        Some(end) => rest = &rest[b + 2 + end + 2..],
                        None => {
                            in_block = true;
                            break;
                        }
                    }
                }
                (None, None) => {
                    kept.push_str(rest);
                    break;
                }
                (Some(_), None) => unreachable!("covered by the first arm"),
            }
        }
        if !kept.trim_start().starts_with('#') {
            out.push_str(&kept);
            out.push('\n');
        }
    }
    out
}

/// Splits `type name` at the name (the last identifier).
fn param(text: &str) -> Result<Param, String> {
    let text = words(text);
    let at = text
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let (ty, name) = text.split_at(at);
    if name.is_empty() || ty.trim().is_empty() {
        return Err(format!("cannot read the parameter `{text}`"));
    }
    Ok(Param {
        ty: ty.trim().to_owned(),
        name: name.to_owned(),
    })
}

/// The function-pointer typedefs (`typedef R (*name)(...);`) and the
/// functions of the header's `extern "C"` block.
pub(crate) fn parse(header: &str) -> Result<(BTreeSet<String>, Vec<Function>), String> {
    let code = code_lines(header);
    let mut fn_types = BTreeSet::new();
    for stmt in code.split(';') {
        let stmt = words(stmt);
        if let Some(rest) = stmt.strip_prefix("typedef ") {
            if let Some(open) = rest.find("(*") {
                let name: String = rest[open + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                fn_types.insert(name);
            }
        }
    }
    let start = code
        .find("extern \"C\" {")
        .ok_or("no `extern \"C\" {` block in the header")?;
    let block = &code[start + "extern \"C\" {".len()..];
    let end = block
        .rfind('}')
        .ok_or("the `extern \"C\"` block does not end")?;
    let mut functions = Vec::new();
    for stmt in block[..end].split(';') {
        let stmt = words(stmt);
        if stmt.is_empty() {
            continue;
        }
        let open = stmt
            .find('(')
            .ok_or_else(|| format!("not a function declaration: `{stmt}`"))?;
        let close = stmt
            .rfind(')')
            .ok_or_else(|| format!("unbalanced parentheses: `{stmt}`"))?;
        let head = param(&stmt[..open])?;
        let inner = &stmt[open + 1..close];
        if inner.contains('(') {
            return Err(format!(
                "`{}` declares a function-pointer parameter inline: give it a typedef",
                head.name
            ));
        }
        let params = if inner.trim() == "void" || inner.trim().is_empty() {
            Vec::new()
        } else {
            inner.split(',').map(param).collect::<Result<_, _>>()?
        };
        functions.push(Function {
            ret: head.ty,
            name: head.name,
            params,
        });
    }
    Ok((fn_types, functions))
}

fn kind(p: &Param, fn_types: &BTreeSet<String>) -> Kind {
    let compact: String = p.ty.split_whitespace().collect();
    if compact == "void*" && (p.name == "user" || p.name.ends_with("_user")) {
        Kind::Data
    } else if p.ty.contains('*') || fn_types.contains(&p.ty) {
        Kind::Pointer
    } else {
        Kind::Scalar
    }
}

/// A C string literal of `s` (which holds no quotes or backslashes).
fn literal(s: &str) -> String {
    format!("\"{s}\"")
}

/// The test program for the functions of `header`.
pub(crate) fn generate(header: &str) -> Result<String, String> {
    let (fn_types, functions) = parse(header)?;
    let mut body = String::new();
    let mut unchecked = Vec::new();
    let mut calls = 0;
    for f in &functions {
        let kinds: Vec<Kind> = f.params.iter().map(|p| kind(p, &fn_types)).collect();
        if f.ret == "void" && f.name.ends_with("_free") {
            if f.params.len() != 1 || kinds[0] != Kind::Pointer {
                return Err(format!("`{}` is a `_free` without one pointer", f.name));
            }
            let _ = writeln!(body, "    {}(NULL);", f.name);
            let _ = writeln!(
                body,
                "    freed({});",
                literal(&format!("{}(NULL)", f.name))
            );
            calls += 1;
            continue;
        }
        let pointers: Vec<usize> = (0..f.params.len())
            .filter(|&i| kinds[i] == Kind::Pointer)
            .collect();
        if pointers.is_empty() {
            unchecked.push(f.name.clone());
            continue;
        }
        if f.ret != "ipc_result" {
            return Err(format!(
                "`{}` takes pointers but returns `{}`, not `ipc_result`",
                f.name, f.ret
            ));
        }
        for &null in &pointers {
            let args: Vec<String> = f
                .params
                .iter()
                .zip(&kinds)
                .enumerate()
                .map(|(i, (p, k))| match k {
                    Kind::Pointer if i == null => "NULL".to_owned(),
                    Kind::Pointer => format!("DUMMY({})", p.ty),
                    Kind::Data => "NULL".to_owned(),
                    Kind::Scalar => "0".to_owned(),
                })
                .collect();
            let what = format!("{}({} = NULL)", f.name, f.params[null].name);
            let _ = writeln!(
                body,
                "    expect_null_argument({}, {}({}));",
                literal(&what),
                f.name,
                args.join(", ")
            );
            calls += 1;
        }
    }
    let mut out = String::new();
    out.push_str(PROLOGUE);
    let _ = writeln!(
        out,
        "/* {} functions, {calls} calls. Without a pointer parameter to check:\n * {}. */\n",
        functions.len(),
        if unchecked.is_empty() {
            "none".to_owned()
        } else {
            unchecked.join(", ")
        }
    );
    out.push_str("int main(void) {\n");
    out.push_str(&body);
    out.push_str(EPILOGUE);
    Ok(out)
}

const PROLOGUE: &str = r#"/*
 * null_arguments.c: every function of ipc.h called once per pointer
 * parameter, that one NULL and every other a non-NULL address that is never
 * mapped (numbers 0): each call must return IPC_NULL_ARGUMENT without
 * touching any pointer, and each `_free(NULL)` must do nothing. `user` data
 * pointers are passed through by the library, never checked: NULL here.
 * Generated from include/ipc.h by `cargo xtask codegen`: do not edit.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include <ipc.h>

#include <stdint.h>
#include <stdio.h>

/* The first page: never mapped, and aligned for every type. */
#define DUMMY(type) ((type)(uintptr_t)4096)

static unsigned passed, failed;

static void expect_null_argument(const char *call, ipc_result got) {
    if (got == IPC_NULL_ARGUMENT) {
        passed++;
        printf("ok %u - %s\n", passed + failed, call);
    } else {
        failed++;
        printf("not ok %u - %s: %s (%u), expected IPC_NULL_ARGUMENT\n", passed + failed, call,
               ipc_result_str(got), (unsigned)got);
    }
}

static void freed(const char *call) {
    passed++;
    printf("ok %u - %s does nothing\n", passed + failed, call);
}

"#;

const EPILOGUE: &str = r#"
    /* The line `cargo xtask ci` counts. */
    printf("test result: %s. %u passed; %u failed\n", failed ? "FAILED" : "ok", passed, failed);
    return failed ? 1 : 0;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"
#include <stdint.h>
// A callback.
typedef uint32_t (*ipc_encode_fn)(void *user, ipc_encoder *encoder);
/* block
   comment; with a semicolon */
#ifdef __cplusplus
extern "C" {
#endif // __cplusplus
// Docs; with a semicolon.
ipc_result ipc_send(ipc_writer *writer,
                    uint32_t id,
                    ipc_encode_fn encode,
                    void *user);
void ipc_writer_free(ipc_writer *writer);
const char *ipc_result_str(uint32_t result);
ipc_result ipc_call(const char *const *args, void *encode_user, size_t n);
#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus
"#;

    #[test]
    fn reads_functions_and_callback_types() {
        let (types, functions) = parse(HEADER).unwrap();
        assert_eq!(types.into_iter().collect::<Vec<_>>(), ["ipc_encode_fn"]);
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["ipc_send", "ipc_writer_free", "ipc_result_str", "ipc_call"]
        );
        assert_eq!(functions[2].ret, "const char *");
        assert_eq!(
            functions[3].params[0],
            Param {
                ty: "const char *const *".to_owned(),
                name: "args".to_owned()
            }
        );
    }

    #[test]
    fn one_call_per_pointer_with_data_left_null() {
        let c = generate(HEADER).unwrap();
        assert!(c.contains("ipc_send(NULL, 0, DUMMY(ipc_encode_fn), NULL)"));
        assert!(c.contains("ipc_send(DUMMY(ipc_writer *), 0, NULL, NULL)"));
        assert!(c.contains("ipc_call(NULL, NULL, 0)"));
        // `encode_user` is data: no call makes it the NULL one.
        assert!(!c.contains("encode_user = NULL"));
        assert!(c.contains("    ipc_writer_free(NULL);\n"));
        assert!(c.contains("Without a pointer parameter to check:\n * ipc_result_str."));
        assert_eq!(c.matches("expect_null_argument(\"").count(), 3);
    }

    #[test]
    fn an_inline_function_pointer_is_refused() {
        let header = "extern \"C\" {\nipc_result f(void (*cb)(void));\n}\n";
        assert!(generate(header).is_err());
    }
}
