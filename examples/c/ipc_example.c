/*
 * ipc_example.c: libipc's channels (Layer I) and messages (Layer II) from
 * plain C99, against the installed package.
 *
 * The host creates a segment of four channels, starts a peer (itself again,
 * or the program given after --peer) with the connection string on its
 * command line, and then the two exchange typed MessagePack messages, blobs
 * larger than the ring, zero-copy spans and timed reads; last, the host
 * checks that a peer that quits is reported as closed and one that is
 * killed as dead. One line per check; the exit status is non-zero if one
 * failed.
 *
 *   ipc_example                          host, peer = this program
 *   ipc_example --peer CMD [ARGS...]     host, peer = CMD ARGS... (a 32-bit
 *                                        build, `wine peer.exe`, ...)
 *   ipc_example peer serve|hang CONN     the peer (started by the host)
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <ipc.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

/* ---- What both sides agree on ----------------------------------------- */

/* Four one-way channels of 4 KiB: small, so that big messages stream. */
enum {
    CH_MSG_TO_PEER = 0,
    CH_MSG_TO_HOST = 1,
    CH_RAW_TO_PEER = 2,
    CH_RAW_TO_HOST = 3,
    CHANNELS = 4,
    RING = 4096
};

/* Message IDs. */
enum {
    MSG_HELLO = 1,       /* peer: [pointer bits, pid, platform]          */
    MSG_SHAPES = 2,      /* host: [every shape]; peer echoes it twice     */
    MSG_SHAPES_ECHO = 3, /* peer: the same values, re-encoded             */
    MSG_BLOB = 4,        /* either: [seed, bin]                           */
    MSG_BLOB_SUM = 5,    /* peer: [length, checksum, intact]              */
    MSG_RAW = 6,         /* host: [length, seed]; then raw bytes follow   */
    MSG_ZERO_COPY = 7,   /* host: [rounds, size]; then raw rounds follow  */
    MSG_VERDICT = 8,     /* peer: [intact] (what it read was right)       */
    MSG_PING = 9,        /* host: [delay ms, count]                       */
    MSG_PONG = 10,       /* peer: [number]                                */
    MSG_QUIT = 11        /* host: [] (peer closes and exits 0)            */
};

#define MS 1000000ull
#define SECOND (1000 * MS)
/* The bound on every wait that should end at once: never reached. */
#define SAFETY_NET (60 * SECOND)

#define BLOB_LEN (1024u * 1024u)
#define RAW_LEN (200u * 1024u)
#define ZC_ROUNDS 7u
#define ZC_SIZE 3000u

static const char *platform_name(void) {
#if defined(__WINE__)
    return "winelib";
#elif defined(_WIN32)
    return "windows";
#elif defined(__linux__)
    return "linux";
#elif defined(__APPLE__)
    return "macos";
#else
    return "posix";
#endif
}

/* The bytes of blob `seed` (both sides compute them). */
static uint8_t pattern(uint32_t seed, size_t i) {
    return (uint8_t)(seed * 131u + (uint32_t)i * 7u + (uint32_t)(i >> 9));
}

/* FNV-1a, to compare what was sent with what arrived. */
static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}
#define FNV_START 2166136261u

static void print_error(const char *what, ipc_result r) {
    uint8_t buf[512];
    size_t len = 0;
    ipc_result got = ipc_last_error(buf, sizeof buf, &len);
    if (len > sizeof buf) {
        len = sizeof buf;
    }
    fprintf(stderr, "%s: %s (%u)", what, ipc_result_str(r), (unsigned)r);
    if ((got == IPC_OK || got == IPC_BUFFER_TOO_SMALL) && len > 0) {
        fprintf(stderr, "; last error: %.*s", (int)len, (const char *)buf);
    }
    fprintf(stderr, "\n");
}

static void sleep_ms(unsigned ms) {
#if defined(_WIN32)
    Sleep(ms);
#else
    struct timespec t;
    t.tv_sec = (time_t)(ms / 1000);
    t.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&t, &t) != 0) {
    }
#endif
}

static unsigned long my_pid(void) {
#if defined(_WIN32)
    return (unsigned long)GetCurrentProcessId();
#else
    return (unsigned long)getpid();
#endif
}

/* ---- Encoding helpers --------------------------------------------------- */

static ipc_token tok(uint32_t kind) {
    ipc_token t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    return t;
}

static ipc_result put_uint(ipc_encoder *enc, uint64_t v) {
    ipc_token t = tok(IPC_TOKEN_UINT);
    t.uint = v;
    return ipc_encode_token(enc, &t);
}

static ipc_result put_array(ipc_encoder *enc, uint32_t n) {
    ipc_token t = tok(IPC_TOKEN_ARRAY);
    t.len = n;
    return ipc_encode_token(enc, &t);
}

static ipc_result put_bool(ipc_encoder *enc, bool b) {
    ipc_token t = tok(IPC_TOKEN_BOOL);
    t.boolean = b;
    return ipc_encode_token(enc, &t);
}

/* Reads the next value, which must be of `kind`. */
static ipc_result get(ipc_decoder *dec, uint32_t kind, ipc_token *t) {
    ipc_result r = ipc_decode_token(dec, t);
    if (r != IPC_OK) {
        return r;
    }
    return t->kind == kind ? IPC_OK : IPC_MALFORMED;
}

static ipc_result get_uint(ipc_decoder *dec, uint64_t *v) {
    ipc_token t;
    ipc_result r = get(dec, IPC_TOKEN_UINT, &t);
    if (r == IPC_OK) {
        *v = t.uint;
    }
    return r;
}

static ipc_result get_array(ipc_decoder *dec, uint32_t n) {
    ipc_token t;
    ipc_result r = get(dec, IPC_TOKEN_ARRAY, &t);
    return r == IPC_OK && t.len != n ? IPC_MALFORMED : r;
}

/* A message whose payload is an array of unsigned integers. */
typedef struct {
    const uint64_t *values;
    uint32_t count;
} uints;

static uint32_t encode_uints(void *user, ipc_encoder *enc) {
    const uints *u = (const uints *)user;
    uint32_t i;
    ipc_result r = put_array(enc, u->count);
    for (i = 0; r == IPC_OK && i < u->count; i++) {
        r = put_uint(enc, u->values[i]);
    }
    return r;
}

static ipc_result send_uints(ipc_writer *w, uint32_t id, uint32_t correlation, uint8_t flags,
                             const uint64_t *values, uint32_t count) {
    uints u;
    u.values = values;
    u.count = count;
    return ipc_message_send(w, id, correlation, flags, SAFETY_NET, encode_uints, &u);
}

/* What a received message said: its envelope and up to eight integers or
 * booleans (as 0/1). */
typedef struct {
    ipc_header header;
    uint64_t values[8];
    uint32_t count;
    char text[32]; /* the last short string among them */
} received;

static uint32_t decode_scalars(void *user, const ipc_header *h, ipc_decoder *dec) {
    received *m = (received *)user;
    ipc_token t;
    uint32_t i;
    ipc_result r;
    m->header = *h;
    m->count = 0;
    m->text[0] = '\0';
    r = ipc_decode_token(dec, &t);
    if (r == IPC_END) {
        return IPC_OK; /* an empty payload */
    }
    if (r != IPC_OK) {
        return r;
    }
    if (t.kind != IPC_TOKEN_ARRAY || t.len > 8) {
        return IPC_MALFORMED;
    }
    for (i = 0; i < t.len; i++) {
        ipc_token v;
        r = ipc_decode_token(dec, &v);
        if (r != IPC_OK) {
            return r;
        }
        if (v.kind == IPC_TOKEN_UINT) {
            m->values[i] = v.uint;
        } else if (v.kind == IPC_TOKEN_BOOL) {
            m->values[i] = v.boolean ? 1 : 0;
        } else if (v.kind == IPC_TOKEN_STR && v.len < sizeof m->text) {
            r = ipc_decoder_read(dec, (uint8_t *)m->text, v.len);
            if (r != IPC_OK) {
                return r;
            }
            m->text[v.len] = '\0';
            m->values[i] = 0;
        } else {
            return IPC_MALFORMED;
        }
    }
    m->count = t.len;
    return IPC_OK;
}

/* Receives one message of ID `id` with at least `min` values. */
static ipc_result recv_scalars(ipc_reader *r, uint32_t id, uint32_t min, received *m) {
    ipc_limits limits;
    ipc_result res;
    ipc_limits_default(&limits);
    res = ipc_message_recv(r, &limits, SAFETY_NET, decode_scalars, m);
    if (res == IPC_OK && (m->header.id != id || m->count < min)) {
        return IPC_UNEXPECTED_ID;
    }
    return res;
}

/* ---- Every MessagePack shape C can write -------------------------------- */

/* One value head of the shapes message, the bytes it must be written as
 * (the smallest format, as the Rust side writes it), and for a string or
 * byte string the generated contents. */
typedef struct {
    ipc_token token;
    uint8_t head[9];
    uint8_t head_len;
    const uint8_t *content; /* a string's or byte string's bytes */
} shape;

typedef struct {
    shape *items;
    size_t len, cap;
    uint32_t top;       /* values at the top level */
    size_t last_top;    /* where the last top-level value starts */
    uint8_t *expected;  /* the whole payload, as it must be written */
    size_t expected_len;
} shapes;

static uint8_t *str_bytes; /* 'a'..'z' repeated */
static uint8_t *bin_bytes; /* pattern(9, i) */
#define CONTENT_MAX 65536u

static int hexval(char c) {
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* Adds a head; `top` says it starts a top-level value. */
static void add(shapes *s, ipc_token t, const char *hex, int top) {
    shape *e;
    size_t i;
    if (s->len == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->items = (shape *)realloc(s->items, s->cap * sizeof(shape));
        if (!s->items) {
            abort();
        }
    }
    e = &s->items[s->len];
    e->token = t;
    e->content = t.kind == IPC_TOKEN_STR ? str_bytes : bin_bytes;
    e->head_len = (uint8_t)(strlen(hex) / 2);
    for (i = 0; i < e->head_len; i++) {
        e->head[i] = (uint8_t)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
    }
    if (top) {
        s->top++;
        s->last_top = s->len;
    }
    s->len++;
}

static void add_nil(shapes *s, int top) {
    add(s, tok(IPC_TOKEN_NIL), "c0", top);
}

static void add_bool(shapes *s, bool b, const char *hex) {
    ipc_token t = tok(IPC_TOKEN_BOOL);
    t.boolean = b;
    add(s, t, hex, 1);
}

static void add_uint(shapes *s, uint64_t v, const char *hex, int top) {
    ipc_token t = tok(IPC_TOKEN_UINT);
    t.uint = v;
    add(s, t, hex, top);
}

static void add_int(shapes *s, int64_t v, const char *hex) {
    ipc_token t = tok(IPC_TOKEN_INT);
    t.sint = v;
    add(s, t, hex, 1);
}

static void add_real(shapes *s, uint32_t kind, double v, const char *hex) {
    ipc_token t = tok(kind);
    t.real = v;
    add(s, t, hex, 1);
}

static void add_len(shapes *s, uint32_t kind, uint32_t len, const char *hex, int top) {
    ipc_token t = tok(kind);
    t.len = len;
    add(s, t, hex, top);
}

/* A one-byte string with contents `c` (a static string). */
static void add_char(shapes *s, const char *c) {
    add_len(s, IPC_TOKEN_STR, 1, "a1", 0);
    s->items[s->len - 1].content = (const uint8_t *)c;
}

/* The head of a length `n` in the format `marker` (`n` big-endian in
 * `bytes` bytes), as hex. */
static const char *head_hex(char *buf, const char *marker, uint32_t n, int bytes) {
    static const char digits[] = "0123456789abcdef";
    int i;
    strcpy(buf, marker);
    for (i = bytes - 1; i >= 0; i--) {
        size_t at = strlen(buf);
        uint32_t byte = (n >> (8 * i)) & 0xffu;
        buf[at] = digits[byte >> 4];
        buf[at + 1] = digits[byte & 15u];
        buf[at + 2] = '\0';
    }
    return buf;
}

/* A string or byte string of `len` bytes at the top level. */
static void add_text(shapes *s, uint32_t kind, uint32_t len) {
    char hex[19];
    const char *head;
    if (kind == IPC_TOKEN_STR) {
        head = len < 32       ? head_hex(hex, "", 0xa0u | len, 1)
               : len < 256    ? head_hex(hex, "d9", len, 1)
               : len < 65536u ? head_hex(hex, "da", len, 2)
                              : head_hex(hex, "db", len, 4);
    } else {
        head = len < 256      ? head_hex(hex, "c4", len, 1)
               : len < 65536u ? head_hex(hex, "c5", len, 2)
                              : head_hex(hex, "c6", len, 4);
    }
    add_len(s, kind, len, head, 1);
}

static void build_shapes(shapes *s) {
    uint32_t i;
    char hex[19];
    memset(s, 0, sizeof *s);
    /* The top-level array's head comes first; its length is patched in. */
    add_len(s, IPC_TOKEN_ARRAY, 0, "dc0000", 0);

    add_nil(s, 1);
    add_bool(s, true, "c3");
    add_bool(s, false, "c2");

    add_uint(s, 0, "00", 1);
    add_uint(s, 127, "7f", 1);
    add_uint(s, 128, "cc80", 1);
    add_uint(s, 255, "ccff", 1);
    add_uint(s, 256, "cd0100", 1);
    add_uint(s, 65535, "cdffff", 1);
    add_uint(s, 65536, "ce00010000", 1);
    add_uint(s, 4294967295u, "ceffffffff", 1);
    add_uint(s, 4294967296ull, "cf0000000100000000", 1);
    add_uint(s, UINT64_MAX, "cfffffffffffffffff", 1);

    /* Non-negative signed values are written as unsigned. */
    add_int(s, 5, "05");
    add_int(s, 200, "ccc8");
    add_int(s, -1, "ff");
    add_int(s, -32, "e0");
    add_int(s, -33, "d0df");
    add_int(s, -128, "d080");
    add_int(s, -129, "d1ff7f");
    add_int(s, -32768, "d18000");
    add_int(s, -32769, "d2ffff7fff");
    add_int(s, INT32_MIN, "d280000000");
    add_int(s, (int64_t)INT32_MIN - 1, "d3ffffffff7fffffff");
    add_int(s, INT64_MIN, "d38000000000000000");

    add_real(s, IPC_TOKEN_F32, 1.5, "ca3fc00000");
    add_real(s, IPC_TOKEN_F32, -0.0, "ca80000000");
    add_real(s, IPC_TOKEN_F64, -2.25, "cbc002000000000000");
    add_real(s, IPC_TOKEN_F64, 1e300, "cb7e37e43c8800759c");

    add_text(s, IPC_TOKEN_STR, 0);
    add_text(s, IPC_TOKEN_STR, 5);
    add_text(s, IPC_TOKEN_STR, 31);
    add_text(s, IPC_TOKEN_STR, 32);
    add_text(s, IPC_TOKEN_STR, 255);
    add_text(s, IPC_TOKEN_STR, 256);
    add_text(s, IPC_TOKEN_STR, 65535);
    add_text(s, IPC_TOKEN_STR, 65536);
    add_text(s, IPC_TOKEN_BIN, 0);
    add_text(s, IPC_TOKEN_BIN, 5);
    add_text(s, IPC_TOKEN_BIN, 255);
    add_text(s, IPC_TOKEN_BIN, 256);
    add_text(s, IPC_TOKEN_BIN, 65535);
    add_text(s, IPC_TOKEN_BIN, 65536);

    /* Arrays: empty, fixarray, the largest fixarray, array 16, array 32. */
    add_len(s, IPC_TOKEN_ARRAY, 0, "90", 1);
    add_len(s, IPC_TOKEN_ARRAY, 2, "92", 1);
    add_uint(s, 1, "01", 0);
    add_char(s, "x");
    add_len(s, IPC_TOKEN_ARRAY, 15, "9f", 1);
    for (i = 0; i < 15; i++) {
        add_nil(s, 0);
    }
    add_len(s, IPC_TOKEN_ARRAY, 16, "dc0010", 1);
    for (i = 0; i < 16; i++) {
        add_uint(s, 1, "01", 0);
    }
    add_len(s, IPC_TOKEN_ARRAY, 65536, "dd00010000", 1);
    for (i = 0; i < 65536; i++) {
        add_nil(s, 0);
    }

    /* Nesting: [[[]]], and {"a": 1, "b": [true, nil]}. */
    add_len(s, IPC_TOKEN_ARRAY, 1, "91", 1);
    add_len(s, IPC_TOKEN_ARRAY, 1, "91", 0);
    add_len(s, IPC_TOKEN_ARRAY, 0, "90", 0);
    add_len(s, IPC_TOKEN_MAP, 0, "80", 1);
    add_len(s, IPC_TOKEN_MAP, 2, "82", 1);
    add_char(s, "a");
    add_uint(s, 1, "01", 0);
    add_char(s, "b");
    add_len(s, IPC_TOKEN_ARRAY, 2, "92", 0);
    {
        ipc_token t = tok(IPC_TOKEN_BOOL);
        t.boolean = true;
        add(s, t, "c3", 0);
    }
    add_nil(s, 0);

    /* Maps: the largest fixmap, map 16, map 32 (keys 0.., values nil). */
    add_len(s, IPC_TOKEN_MAP, 15, "8f", 1);
    for (i = 0; i < 15; i++) {
        add_uint(s, i, head_hex(hex, "", i, 1), 0);
        add_nil(s, 0);
    }
    add_len(s, IPC_TOKEN_MAP, 16, "de0010", 1);
    for (i = 0; i < 16; i++) {
        add_uint(s, i, head_hex(hex, "", i, 1), 0);
        add_nil(s, 0);
    }
    add_len(s, IPC_TOKEN_MAP, 65536, "df00010000", 1);
    for (i = 0; i < 65536; i++) {
        if (i < 128) {
            add_uint(s, i, head_hex(hex, "", i, 1), 0);
        } else if (i < 256) {
            add_uint(s, i, head_hex(hex, "cc", i, 1), 0);
        } else {
            add_uint(s, i, head_hex(hex, "cd", i, 2), 0);
        }
        add_nil(s, 0);
    }

    /* The top-level array: array 16 (more than 15 values). */
    s->items[0].token.len = s->top;
    s->items[0].head[1] = (uint8_t)(s->top >> 8);
    s->items[0].head[2] = (uint8_t)s->top;

    /* The bytes the whole payload must be. */
    s->expected_len = 0;
    for (i = 0; i < s->len; i++) {
        const ipc_token *t = &s->items[i].token;
        s->expected_len += s->items[i].head_len;
        if (t->kind == IPC_TOKEN_STR || t->kind == IPC_TOKEN_BIN) {
            s->expected_len += t->len;
        }
    }
    s->expected = (uint8_t *)malloc(s->expected_len);
    if (!s->expected) {
        abort();
    }
    {
        size_t at = 0;
        for (i = 0; i < s->len; i++) {
            const shape *e = &s->items[i];
            memcpy(s->expected + at, e->head, e->head_len);
            at += e->head_len;
            if (e->token.kind == IPC_TOKEN_STR || e->token.kind == IPC_TOKEN_BIN) {
                memcpy(s->expected + at, e->content, e->token.len);
                at += e->token.len;
            }
        }
    }
}

/* The host writes the shapes: short strings and byte strings with
 * ipc_encode_str/_bin, long ones as a head and ipc_encoder_write. */
static uint32_t encode_shapes(void *user, ipc_encoder *enc) {
    const shapes *s = (const shapes *)user;
    size_t i;
    for (i = 0; i < s->len; i++) {
        const ipc_token *t = &s->items[i].token;
        const uint8_t *content = s->items[i].content;
        ipc_result r;
        if (t->kind == IPC_TOKEN_STR && t->len < 256) {
            r = ipc_encode_str(enc, content, t->len);
        } else if (t->kind == IPC_TOKEN_BIN && t->len < 256) {
            r = ipc_encode_bin(enc, content, t->len);
        } else {
            r = ipc_encode_token(enc, t);
            if (r == IPC_OK && (t->kind == IPC_TOKEN_STR || t->kind == IPC_TOKEN_BIN)) {
                r = ipc_encoder_write(enc, content, t->len);
            }
        }
        if (r != IPC_OK) {
            return r;
        }
    }
    return IPC_OK;
}

/* ---- Shared state of one session --------------------------------------- */

typedef struct {
    ipc_segment *segment;
    ipc_writer *msg_out, *raw_out;
    ipc_reader *msg_in, *raw_in;
} session;

static void session_free(session *s) {
    ipc_writer_free(s->msg_out);
    ipc_writer_free(s->raw_out);
    ipc_reader_free(s->msg_in);
    ipc_reader_free(s->raw_in);
    ipc_segment_free(s->segment);
    memset(s, 0, sizeof *s);
}

/* Claims this side's ends: the host writes to the peer's channels. */
static ipc_result session_claim(session *s, bool host) {
    ipc_result r;
    r = ipc_segment_writer(s->segment, host ? CH_MSG_TO_PEER : CH_MSG_TO_HOST, &s->msg_out);
    if (r == IPC_OK) {
        r = ipc_segment_writer(s->segment, host ? CH_RAW_TO_PEER : CH_RAW_TO_HOST, &s->raw_out);
    }
    if (r == IPC_OK) {
        r = ipc_segment_reader(s->segment, host ? CH_MSG_TO_HOST : CH_MSG_TO_PEER, &s->msg_in);
    }
    if (r == IPC_OK) {
        r = ipc_segment_reader(s->segment, host ? CH_RAW_TO_HOST : CH_RAW_TO_PEER, &s->raw_in);
    }
    return r;
}

/* A 1 MiB blob message, its bytes written straight into the ring. */
static uint32_t encode_blob(void *user, ipc_encoder *enc) {
    uint32_t seed = *(const uint32_t *)user;
    ipc_token t = tok(IPC_TOKEN_BIN);
    size_t done = 0;
    ipc_result r = put_array(enc, 2);
    if (r == IPC_OK) {
        r = put_uint(enc, seed);
    }
    t.len = BLOB_LEN;
    if (r == IPC_OK) {
        r = ipc_encode_token(enc, &t);
    }
    while (r == IPC_OK && done < BLOB_LEN) {
        uint8_t *span;
        size_t len, i;
        r = ipc_encoder_span(enc, &span, &len);
        if (r != IPC_OK) {
            break;
        }
        if (len > BLOB_LEN - done) {
            len = BLOB_LEN - done;
        }
        for (i = 0; i < len; i++) {
            span[i] = pattern(seed, done + i);
        }
        r = ipc_encoder_advance(enc, len);
        done += len;
    }
    return r;
}

/* What a blob message held, read in place. */
typedef struct {
    uint64_t seed;
    uint64_t len;
    uint32_t sum;
    bool intact;
    size_t chunks;
} blob_seen;

static uint32_t decode_blob(void *user, const ipc_header *h, ipc_decoder *dec) {
    blob_seen *b = (blob_seen *)user;
    ipc_token t;
    ipc_result r;
    size_t done = 0;
    memset(b, 0, sizeof *b);
    if (h->id != MSG_BLOB) {
        return IPC_UNEXPECTED_ID;
    }
    r = get_array(dec, 2);
    if (r == IPC_OK) {
        r = get_uint(dec, &b->seed);
    }
    if (r == IPC_OK) {
        r = get(dec, IPC_TOKEN_BIN, &t);
    }
    if (r != IPC_OK) {
        return r;
    }
    b->len = t.len;
    b->sum = FNV_START;
    b->intact = true;
    while (done < t.len) {
        const uint8_t *chunk;
        size_t len, i;
        r = ipc_decoder_chunk(dec, &chunk, &len);
        if (r != IPC_OK) {
            return r;
        }
        if (len == 0) {
            return IPC_END;
        }
        if (len > t.len - done) {
            len = t.len - done;
        }
        for (i = 0; i < len; i++) {
            if (chunk[i] != pattern((uint32_t)b->seed, done + i)) {
                b->intact = false;
            }
        }
        b->sum = fnv(b->sum, chunk, len);
        r = ipc_decoder_consume(dec, len);
        if (r != IPC_OK) {
            return r;
        }
        done += len;
        b->chunks++;
    }
    return IPC_OK;
}

static uint32_t blob_sum(uint32_t seed) {
    uint32_t h = FNV_START;
    size_t i;
    for (i = 0; i < BLOB_LEN; i++) {
        uint8_t b = pattern(seed, i);
        h = fnv(h, &b, 1);
    }
    return h;
}

/* Writes `size` bytes of pattern `seed` in place (reserve, advance,
 * commit); `wrapped` counts reservations that came in two spans. */
static ipc_result zero_copy_write(ipc_writer *w, uint32_t seed, size_t size, unsigned *wrapped) {
    uint8_t *first, *second;
    size_t first_len, second_len, i;
    ipc_result r = ipc_writer_reserve(w, size, SAFETY_NET, &first, &first_len, &second,
                                      &second_len);
    if (r != IPC_OK) {
        return r;
    }
    if (first_len + second_len < size) {
        return IPC_INVALID_ARGUMENT;
    }
    if (first_len < size) {
        (*wrapped)++;
    }
    for (i = 0; i < size; i++) {
        uint8_t *at = i < first_len ? &first[i] : &second[i - first_len];
        *at = pattern(seed, i);
    }
    r = ipc_writer_advance(w, size);
    return r == IPC_OK ? ipc_writer_commit(w) : r;
}

/* Reads `size` bytes in place (peek, consume); says whether they were
 * pattern `seed`. */
static ipc_result zero_copy_read(ipc_reader *rd, uint32_t seed, size_t size, bool *intact,
                                 unsigned *wrapped) {
    const uint8_t *first, *second;
    size_t first_len, second_len, i;
    ipc_result r = ipc_reader_peek(rd, size, SAFETY_NET, &first, &first_len, &second,
                                   &second_len);
    if (r != IPC_OK) {
        return r;
    }
    if (first_len + second_len < size) {
        return IPC_CLOSED;
    }
    if (first_len < size) {
        (*wrapped)++;
    }
    for (i = 0; i < size; i++) {
        uint8_t b = i < first_len ? first[i] : second[i - first_len];
        if (b != pattern(seed, i)) {
            *intact = false;
        }
    }
    return ipc_reader_consume(rd, size);
}

/* ---- The peer ----------------------------------------------------------- */

/* The values of a shapes message, kept to be sent back. */
typedef struct {
    ipc_header header;
    ipc_token *tokens;
    size_t count;
    uint8_t *bytes; /* contents of strings and byte strings, in order */
    size_t bytes_len;
    /* Other messages: up to eight integers. */
    received scalars;
    blob_seen blob;
} peer_msg;

static uint32_t peer_decode(void *user, const ipc_header *h, ipc_decoder *dec) {
    peer_msg *m = (peer_msg *)user;
    size_t remaining, cap;
    ipc_result r;
    m->header = *h;
    if (h->id == MSG_BLOB) {
        return decode_blob(&m->blob, h, dec);
    }
    if (h->id != MSG_SHAPES) {
        return decode_scalars(&m->scalars, h, dec);
    }
    /* Every value takes a byte at least: `remaining` bounds both. */
    r = ipc_decoder_remaining(dec, &remaining);
    if (r != IPC_OK) {
        return r;
    }
    cap = remaining ? remaining : 1;
    m->tokens = (ipc_token *)malloc(cap * sizeof(ipc_token));
    m->bytes = (uint8_t *)malloc(cap);
    m->count = 0;
    m->bytes_len = 0;
    if (!m->tokens || !m->bytes) {
        return IPC_INVALID_ARGUMENT;
    }
    for (;;) {
        ipc_token t;
        r = ipc_decode_token(dec, &t);
        if (r == IPC_END) {
            return IPC_OK;
        }
        if (r != IPC_OK) {
            return r;
        }
        m->tokens[m->count++] = t;
        if (t.kind == IPC_TOKEN_STR || t.kind == IPC_TOKEN_BIN) {
            r = ipc_decoder_read(dec, m->bytes + m->bytes_len, t.len);
            if (r != IPC_OK) {
                return r;
            }
            m->bytes_len += t.len;
        }
    }
}

/* The peer re-encodes what it decoded, value head by value head. */
static uint32_t encode_echo(void *user, ipc_encoder *enc) {
    const peer_msg *m = (const peer_msg *)user;
    size_t i, at = 0;
    for (i = 0; i < m->count; i++) {
        const ipc_token *t = &m->tokens[i];
        ipc_result r = ipc_encode_token(enc, t);
        if (r == IPC_OK && (t->kind == IPC_TOKEN_STR || t->kind == IPC_TOKEN_BIN)) {
            r = ipc_encoder_write(enc, m->bytes + at, t->len);
            at += t->len;
        }
        if (r != IPC_OK) {
            return r;
        }
    }
    return IPC_OK;
}

static uint32_t encode_hello(void *user, ipc_encoder *enc) {
    const char *name = platform_name();
    ipc_result r = put_array(enc, 3);
    (void)user;
    if (r == IPC_OK) {
        r = put_uint(enc, sizeof(void *) * 8);
    }
    if (r == IPC_OK) {
        r = put_uint(enc, my_pid());
    }
    if (r == IPC_OK) {
        r = ipc_encode_str(enc, (const uint8_t *)name, (uint32_t)strlen(name));
    }
    return r;
}

static uint32_t encode_verdict(void *user, ipc_encoder *enc) {
    bool intact = *(const bool *)user;
    ipc_result r = put_array(enc, 1);
    return r == IPC_OK ? put_bool(enc, intact) : r;
}

static ipc_result send_verdict(session *s, bool intact) {
    return ipc_message_send(s->msg_out, MSG_VERDICT, 0, 0, SAFETY_NET, encode_verdict, &intact);
}

/* Serves the host's requests until it says quit; returns the exit status. */
static int peer_serve(session *s) {
    ipc_limits limits;
    ipc_limits_default(&limits);
    for (;;) {
        peer_msg m;
        ipc_result r;
        memset(&m, 0, sizeof m);
        r = ipc_message_recv(s->msg_in, &limits, SAFETY_NET, peer_decode, &m);
        if (r != IPC_OK) {
            free(m.tokens);
            free(m.bytes);
            print_error("peer: receive", r);
            return 1;
        }
        switch (m.header.id) {
        case MSG_SHAPES: {
            int i;
            /* Twice: the host checks the bytes of one, the values of the
             * other. */
            for (i = 0; i < 2 && r == IPC_OK; i++) {
                r = ipc_message_send(s->msg_out, MSG_SHAPES_ECHO, m.header.correlation,
                                     IPC_FLAG_REPLY, SAFETY_NET, encode_echo, &m);
            }
            free(m.tokens);
            free(m.bytes);
            break;
        }
        case MSG_BLOB: {
            uint64_t v[3];
            uint32_t seed = (uint32_t)m.blob.seed + 1;
            v[0] = m.blob.len;
            v[1] = m.blob.sum;
            v[2] = m.blob.intact;
            r = send_uints(s->msg_out, MSG_BLOB_SUM, 0, 0, v, 3);
            if (r == IPC_OK) {
                r = ipc_message_send(s->msg_out, MSG_BLOB, 0, 0, SAFETY_NET, encode_blob, &seed);
            }
            break;
        }
        case MSG_RAW: {
            /* [length, seed]: read it all with one call, check it, send it
             * back the same way. */
            size_t len = (size_t)m.scalars.values[0], i, written = 0;
            uint32_t seed = (uint32_t)m.scalars.values[1];
            uint8_t *buf = (uint8_t *)malloc(len ? len : 1);
            bool intact = m.scalars.count == 2;
            if (!buf) {
                abort();
            }
            {
                r = ipc_reader_read_exact(s->raw_in, buf, len, SAFETY_NET);
                for (i = 0; r == IPC_OK && i < len; i++) {
                    if (buf[i] != pattern(seed, i)) {
                        intact = false;
                    }
                }
            }
            if (r == IPC_OK) {
                r = ipc_writer_write(s->raw_out, buf, len, SAFETY_NET, &written);
            }
            if (r == IPC_OK) {
                r = written == len ? ipc_writer_commit(s->raw_out) : IPC_TIMEOUT;
            }
            if (r == IPC_OK) {
                r = send_verdict(s, intact);
            }
            free(buf);
            break;
        }
        case MSG_ZERO_COPY: {
            /* [rounds, size]: each round in place, then back in place. */
            uint32_t rounds = (uint32_t)m.scalars.values[0], i;
            size_t size = (size_t)m.scalars.values[1];
            bool intact = m.scalars.count == 2;
            unsigned wrapped = 0;
            for (i = 0; r == IPC_OK && i < rounds; i++) {
                r = zero_copy_read(s->raw_in, i, size, &intact, &wrapped);
                if (r == IPC_OK) {
                    r = zero_copy_write(s->raw_out, i + 100, size, &wrapped);
                }
            }
            if (r == IPC_OK) {
                r = send_verdict(s, intact);
            }
            break;
        }
        case MSG_PING: {
            /* [delay ms, count]: answer `count` pongs after the delay. */
            uint64_t delay = m.scalars.values[0], i;
            sleep_ms((unsigned)delay);
            for (i = 0; r == IPC_OK && i < m.scalars.values[1]; i++) {
                uint64_t n = i;
                r = send_uints(s->msg_out, MSG_PONG, m.header.correlation, IPC_FLAG_REPLY, &n, 1);
            }
            break;
        }
        case MSG_QUIT:
            return 0;
        default:
            fprintf(stderr, "peer: unexpected message %u\n", (unsigned)m.header.id);
            return 1;
        }
        if (r != IPC_OK) {
            print_error("peer: answering", r);
            return 1;
        }
    }
}

static int peer_main(const char *mode, const char *connection) {
    session s;
    ipc_result r;
    int status = 1;
    memset(&s, 0, sizeof s);
    r = ipc_segment_open(connection, &s.segment);
    if (r == IPC_OK) {
        r = session_claim(&s, false);
    }
    if (r == IPC_OK) {
        r = ipc_message_send(s.msg_out, MSG_HELLO, 0, 0, SAFETY_NET, encode_hello, NULL);
    }
    if (r != IPC_OK) {
        print_error("peer: connecting", r);
    } else if (strcmp(mode, "serve") == 0) {
        status = peer_serve(&s);
    } else {
        /* "hang": wait for a message that never comes (the host kills this
         * process meanwhile). */
        received m;
        ipc_limits limits;
        ipc_limits_default(&limits);
        r = ipc_message_recv(s.msg_in, &limits, SAFETY_NET, decode_scalars, &m);
        print_error("peer: was not killed", r);
    }
    /* Freeing the writers closes the channels: the host sees the end. */
    session_free(&s);
    return status;
}

/* ---- Starting and ending the peer process ------------------------------- */

typedef struct {
#if defined(_WIN32)
    HANDLE process;
#else
    pid_t pid;
#endif
    bool running;
} child;

#if defined(_WIN32)
/* Appends `arg` to a command line, quoted as the C runtime splits it. */
static void append_quoted(char *line, size_t cap, const char *arg) {
    size_t at = strlen(line), slashes = 0;
    const char *p;
    if (at && at + 1 < cap) {
        line[at++] = ' ';
    }
    if (at + 1 < cap) {
        line[at++] = '"';
    }
    for (p = arg; *p && at + 4 < cap; p++) {
        if (*p == '\\') {
            slashes++;
        } else if (*p == '"') {
            while (slashes-- > 0 && at + 4 < cap) {
                line[at++] = '\\';
            }
            line[at++] = '\\';
            slashes = 0;
        } else {
            slashes = 0;
        }
        line[at++] = *p;
    }
    while (slashes-- > 0 && at + 2 < cap) {
        line[at++] = '\\';
    }
    if (at + 1 < cap) {
        line[at++] = '"';
    }
    line[at] = '\0';
}
#endif

static bool child_start(child *c, char **argv) {
#if defined(_WIN32)
    static char line[8192];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char **a;
    line[0] = '\0';
    for (a = argv; *a; a++) {
        append_quoted(line, sizeof line, *a);
    }
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    memset(&pi, 0, sizeof pi);
    if (!CreateProcessA(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        fprintf(stderr, "CreateProcess %s failed: %lu\n", line, (unsigned long)GetLastError());
        return false;
    }
    CloseHandle(pi.hThread);
    c->process = pi.hProcess;
#else
    int e = strchr(argv[0], '/') ? posix_spawn(&c->pid, argv[0], NULL, NULL, argv, environ)
                                 : posix_spawnp(&c->pid, argv[0], NULL, NULL, argv, environ);
    if (e != 0) {
        fprintf(stderr, "cannot start %s: %s\n", argv[0], strerror(e));
        return false;
    }
#endif
    c->running = true;
    return true;
}

/* Waits for the child to end; its exit code, or -1 if a signal ended it. */
static int child_wait(child *c) {
    int code = -1;
    if (!c->running) {
        return -1;
    }
#if defined(_WIN32)
    {
        DWORD status = 1;
        WaitForSingleObject(c->process, INFINITE);
        GetExitCodeProcess(c->process, &status);
        CloseHandle(c->process);
        code = (int)status;
    }
#else
    {
        int status = 0;
        while (waitpid(c->pid, &status, 0) < 0) {
        }
        code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
#endif
    c->running = false;
    return code;
}

/* Whether the child has exited (reaping it, with its code in `code`). */
static bool child_exited(child *c, int *code) {
    if (!c->running) {
        return true;
    }
#if defined(_WIN32)
    if (WaitForSingleObject(c->process, 0) != WAIT_OBJECT_0) {
        return false;
    }
#else
    {
        int status = 0;
        if (waitpid(c->pid, &status, WNOHANG) != c->pid) {
            return false;
        }
        c->running = false;
        *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return true;
    }
#endif
    *code = child_wait(c);
    return true;
}

/* Kills the child without reaping it: its death alone must be noticed. */
static void child_kill(child *c) {
    if (c->running) {
#if defined(_WIN32)
        TerminateProcess(c->process, 137);
#else
        kill(c->pid, SIGKILL);
#endif
    }
}

/* ---- The host ------------------------------------------------------------ */

static unsigned passed, failed;

static void check(bool ok, const char *what) {
    if (ok) {
        passed++;
        printf("ok %u - %s\n", passed + failed, what);
    } else {
        failed++;
        printf("not ok %u - %s\n", passed + failed, what);
    }
    fflush(stdout);
}

/* Checks `r == want`, printing why not. */
static bool expect(ipc_result r, ipc_result want, const char *what) {
    if (r != want) {
        char line[256];
        snprintf(line, sizeof line, "%s: got %s, expected %s", what, ipc_result_str(r),
                 ipc_result_str(want));
        print_error(line, r);
        return false;
    }
    return true;
}

/* The host's side of the two shapes echoes. */
typedef struct {
    const shapes *s;
    ipc_header header;
    size_t mismatch; /* first differing byte or value, or SIZE_MAX */
    size_t got_len;
    size_t remaining_after_skip;
} shapes_check;

static uint32_t decode_echo_bytes(void *user, const ipc_header *h, ipc_decoder *dec) {
    shapes_check *c = (shapes_check *)user;
    uint8_t *buf;
    size_t n, i;
    ipc_result r = ipc_decoder_remaining(dec, &n);
    c->header = *h;
    c->got_len = n;
    if (r != IPC_OK) {
        return r;
    }
    buf = (uint8_t *)malloc(n ? n : 1);
    if (!buf) {
        return IPC_INVALID_ARGUMENT;
    }
    r = ipc_decoder_read(dec, buf, n);
    c->mismatch = SIZE_MAX;
    for (i = 0; r == IPC_OK && i < n && i < c->s->expected_len; i++) {
        if (buf[i] != c->s->expected[i]) {
            c->mismatch = i;
            break;
        }
    }
    if (c->mismatch == SIZE_MAX && n != c->s->expected_len) {
        c->mismatch = n < c->s->expected_len ? n : c->s->expected_len;
    }
    free(buf);
    return r;
}

static bool same_token(const ipc_token *want, const ipc_token *got) {
    ipc_token w = *want;
    /* A non-negative signed value comes back as unsigned. */
    if (w.kind == IPC_TOKEN_INT && w.sint >= 0) {
        w.kind = IPC_TOKEN_UINT;
        w.uint = (uint64_t)w.sint;
    }
    if (w.kind != got->kind) {
        return false;
    }
    switch (w.kind) {
    case IPC_TOKEN_NIL:
        return true;
    case IPC_TOKEN_BOOL:
        return w.boolean == got->boolean;
    case IPC_TOKEN_UINT:
        return w.uint == got->uint;
    case IPC_TOKEN_INT:
        return w.sint == got->sint;
    case IPC_TOKEN_F32:
    case IPC_TOKEN_F64:
        return memcmp(&w.real, &got->real, sizeof w.real) == 0;
    default:
        return w.len == got->len;
    }
}

/* Walks the echo value by value; skips the last top-level one whole. */
static uint32_t decode_echo_values(void *user, const ipc_header *h, ipc_decoder *dec) {
    shapes_check *c = (shapes_check *)user;
    size_t i;
    ipc_result r = IPC_OK;
    c->header = *h;
    c->mismatch = SIZE_MAX;
    for (i = 0; i < c->s->last_top; i++) {
        const ipc_token *want = &c->s->items[i].token;
        ipc_token got;
        r = ipc_decode_token(dec, &got);
        if (r != IPC_OK) {
            c->mismatch = i;
            return r;
        }
        if (!same_token(want, &got)) {
            c->mismatch = i;
            return IPC_OK;
        }
        if (got.kind == IPC_TOKEN_STR || got.kind == IPC_TOKEN_BIN) {
            /* The contents, in place. */
            const uint8_t *want_bytes = c->s->items[i].content;
            size_t done = 0;
            while (done < got.len) {
                const uint8_t *chunk;
                size_t len;
                r = ipc_decoder_chunk(dec, &chunk, &len);
                if (r != IPC_OK || len == 0) {
                    c->mismatch = i;
                    return r != IPC_OK ? r : IPC_END;
                }
                if (len > got.len - done) {
                    len = got.len - done;
                }
                if (memcmp(chunk, want_bytes + done, len) != 0) {
                    c->mismatch = i;
                    return IPC_OK;
                }
                r = ipc_decoder_consume(dec, len);
                if (r != IPC_OK) {
                    return r;
                }
                done += len;
            }
        }
    }
    r = ipc_decode_skip(dec, 8);
    if (r == IPC_OK) {
        r = ipc_decoder_remaining(dec, &c->remaining_after_skip);
    }
    return r;
}

static void describe_mismatch(const shapes_check *c, const char *what) {
    if (c->mismatch != SIZE_MAX) {
        fprintf(stderr, "%s: first difference at %lu (payload %lu bytes, expected %lu)\n", what,
                (unsigned long)c->mismatch, (unsigned long)c->got_len,
                (unsigned long)c->s->expected_len);
    }
}

static void check_shapes(session *s) {
    shapes sh;
    shapes_check c;
    ipc_limits limits;
    ipc_result r;
    char line[256];
    build_shapes(&sh);
    ipc_limits_default(&limits);
    memset(&c, 0, sizeof c);
    c.s = &sh;
    c.mismatch = SIZE_MAX;

    r = ipc_message_send(s->msg_out, MSG_SHAPES, 7, IPC_FLAG_REQUEST, SAFETY_NET, encode_shapes,
                         &sh);
    expect(r, IPC_OK, "send shapes");
    r = ipc_message_recv(s->msg_in, &limits, SAFETY_NET, decode_echo_bytes, &c);
    describe_mismatch(&c, "shapes echo (bytes)");
    snprintf(line, sizeof line,
             "msgpack: nil, bool, ints and floats of every width, str, bin, array, map "
             "(%lu value heads, %lu bytes, larger than the ring) come back byte for byte in the "
             "smallest formats",
             (unsigned long)sh.len, (unsigned long)sh.expected_len);
    check(expect(r, IPC_OK, "receive echo") && c.mismatch == SIZE_MAX, line);
    check(c.header.id == MSG_SHAPES_ECHO && c.header.correlation == 7 &&
              c.header.flags == IPC_FLAG_REPLY && c.header.len == sh.expected_len,
          "envelope: ID, correlation, flags and length arrive as sent");

    memset(&c, 0, sizeof c);
    c.s = &sh;
    r = ipc_message_recv(s->msg_in, &limits, SAFETY_NET, decode_echo_values, &c);
    if (c.mismatch != SIZE_MAX) {
        fprintf(stderr, "shapes echo (values): value %lu differs\n", (unsigned long)c.mismatch);
    }
    check(expect(r, IPC_OK, "receive second echo") && c.mismatch == SIZE_MAX &&
              c.remaining_after_skip == 0,
          "msgpack: the echo decodes value by value to what was sent (contents in place), "
          "ipc_decode_skip skips a nested map whole");
    free(sh.items);
    free(sh.expected);
}

static void check_blobs(session *s) {
    uint32_t seed = 41;
    received sum;
    blob_seen b;
    ipc_limits limits;
    ipc_result r;
    char line[256];
    ipc_limits_default(&limits);
    memset(&sum, 0, sizeof sum);
    r = ipc_message_send(s->msg_out, MSG_BLOB, 0, 0, SAFETY_NET, encode_blob, &seed);
    if (expect(r, IPC_OK, "send blob")) {
        r = recv_scalars(s->msg_in, MSG_BLOB_SUM, 3, &sum);
    }
    snprintf(line, sizeof line,
             "a %u KiB message through a %u-byte ring, written in place "
             "(ipc_encoder_span/advance), arrives intact",
             BLOB_LEN / 1024, RING);
    check(expect(r, IPC_OK, "blob sum") && sum.values[0] == BLOB_LEN &&
              sum.values[1] == blob_sum(seed) && sum.values[2] == 1,
          line);

    memset(&b, 0, sizeof b);
    r = ipc_message_recv(s->msg_in, &limits, SAFETY_NET, decode_blob, &b);
    snprintf(line, sizeof line,
             "a %u KiB message from the peer, read in place (ipc_decoder_chunk/consume, "
             "%lu chunks), is intact",
             BLOB_LEN / 1024, (unsigned long)b.chunks);
    check(expect(r, IPC_OK, "peer's blob") && b.seed == seed + 1 && b.len == BLOB_LEN &&
              b.intact && b.sum == blob_sum(seed + 1),
          line);
}

static void check_raw(session *s) {
    uint64_t v[2];
    uint32_t seed = 5;
    uint8_t *out = (uint8_t *)malloc(RAW_LEN), *back = (uint8_t *)malloc(RAW_LEN);
    size_t i, written = 0;
    received verdict;
    ipc_result r;
    bool same = true;
    char line[256];
    if (!out || !back) {
        abort();
    }
    for (i = 0; i < RAW_LEN; i++) {
        out[i] = pattern(seed, i);
    }
    v[0] = RAW_LEN;
    v[1] = seed;
    memset(&verdict, 0, sizeof verdict);
    r = send_uints(s->msg_out, MSG_RAW, 0, 0, v, 2);
    if (r == IPC_OK) {
        r = ipc_writer_write(s->raw_out, out, RAW_LEN, SAFETY_NET, &written);
    }
    if (r == IPC_OK) {
        r = written == RAW_LEN ? ipc_writer_commit(s->raw_out) : IPC_TIMEOUT;
    }
    if (r == IPC_OK) {
        r = ipc_reader_read_exact(s->raw_in, back, RAW_LEN, SAFETY_NET);
        same = r == IPC_OK && memcmp(out, back, RAW_LEN) == 0;
    }
    if (r == IPC_OK) {
        r = recv_scalars(s->msg_in, MSG_VERDICT, 1, &verdict);
    }
    snprintf(line, sizeof line,
             "layer I: a %u KiB blob through the %u-byte ring and back "
             "(ipc_writer_write/commit, ipc_reader_read_exact)",
             RAW_LEN / 1024, RING);
    check(expect(r, IPC_OK, "raw blob") && same && verdict.values[0] == 1, line);
    free(out);
    free(back);
}

static void check_zero_copy(session *s) {
    uint64_t v[2];
    uint32_t i;
    unsigned wrapped_out = 0, wrapped_in = 0;
    bool intact = true;
    received verdict;
    ipc_result r;
    char line[256];
    v[0] = ZC_ROUNDS;
    v[1] = ZC_SIZE;
    memset(&verdict, 0, sizeof verdict);
    r = send_uints(s->msg_out, MSG_ZERO_COPY, 0, 0, v, 2);
    for (i = 0; r == IPC_OK && i < ZC_ROUNDS; i++) {
        r = zero_copy_write(s->raw_out, i, ZC_SIZE, &wrapped_out);
        if (r == IPC_OK) {
            r = zero_copy_read(s->raw_in, i + 100, ZC_SIZE, &intact, &wrapped_in);
        }
    }
    if (r == IPC_OK) {
        r = recv_scalars(s->msg_in, MSG_VERDICT, 1, &verdict);
    }
    snprintf(line, sizeof line,
             "layer I: zero copy both ways, %u rounds of %u bytes (ipc_writer_reserve/"
             "advance/commit, ipc_reader_peek/consume), %u of them across the wrap",
             ZC_ROUNDS, ZC_SIZE, wrapped_out);
    /* 3000 bytes in a 4096-byte ring: the second round must wrap. */
    check(expect(r, IPC_OK, "zero copy") && intact && verdict.values[0] == 1 && wrapped_out > 0 &&
              wrapped_in > 0,
          line);
}

/* A decode callback that fails on purpose, leaving the payload unread. */
static uint32_t decode_refuse(void *user, const ipc_header *h, ipc_decoder *dec) {
    (void)user;
    (void)h;
    (void)dec;
    return IPC_MALFORMED;
}

static void check_timeouts(session *s) {
    uint8_t byte;
    size_t n = 0;
    uint64_t v[2];
    received pong;
    ipc_limits limits;
    ipc_result r1, r2, r3, r, refused;
    ipc_stats before, after;
    ipc_limits_default(&limits);

    /* Nothing is on its way: every timed read must time out. */
    r1 = ipc_reader_read(s->raw_in, &byte, 1, 0, &n);
    r2 = ipc_reader_read_exact(s->raw_in, &byte, 1, 10 * MS);
    memset(&pong, 0, sizeof pong);
    r3 = ipc_message_recv(s->msg_in, &limits, 10 * MS, decode_scalars, &pong);
    check(expect(r1, IPC_TIMEOUT, "read, 0 ns") && expect(r2, IPC_TIMEOUT, "read_exact, 10 ms") &&
              expect(r3, IPC_TIMEOUT, "message_recv, 10 ms"),
          "timed reads with nothing sent time out (ipc_reader_read 0 ns, "
          "ipc_reader_read_exact and ipc_message_recv 10 ms)");

    /* The peer answers after 20 ms: the read waits for it. */
    ipc_reader_stats(s->msg_in, &before);
    v[0] = 20;
    v[1] = 2;
    r = send_uints(s->msg_out, MSG_PING, 9, IPC_FLAG_REQUEST, v, 2);
    refused = IPC_OK;
    if (r == IPC_OK) {
        /* The first pong: refused by the callback, skipped by the library. */
        refused = ipc_message_recv(s->msg_in, &limits, SAFETY_NET, decode_refuse, NULL);
    }
    ipc_reader_stats(s->msg_in, &after);
    if (r == IPC_OK) {
        r = recv_scalars(s->msg_in, MSG_PONG, 1, &pong);
    }
    check(expect(refused, IPC_MALFORMED, "refusing decode") && expect(r, IPC_OK, "pong") &&
              pong.header.correlation == 9 && pong.values[0] == 1,
          "a timed read that waits gets the late answer; the timeouts consumed nothing; a "
          "decode callback's error is what the receive returns and the stream goes on");
    printf("  (the host's reader waited %lu times, slept %lu)\n",
           (unsigned long)(after.waits - before.waits),
           (unsigned long)(after.sleeps - before.sleeps));
}

/* Starts a peer on a fresh segment and waits for its hello. */
static bool start_session(session *s, child *c, char **peer_cmd, int peer_len, const char *mode,
                          received *hello) {
    static char connection[256];
    size_t len = 0;
    char *argv[64];
    int i, n = 0;
    size_t capacities[CHANNELS];
    bool watching = false;
    ipc_result r;
    for (i = 0; i < CHANNELS; i++) {
        capacities[i] = RING;
    }
    memset(s, 0, sizeof *s);
    r = ipc_segment_create(capacities, CHANNELS, &s->segment);
    if (r == IPC_OK) {
        r = ipc_segment_connection_string(s->segment, connection, sizeof connection, &len);
    }
    if (r == IPC_OK) {
        r = session_claim(s, true);
    }
    if (!expect(r, IPC_OK, "segment")) {
        return false;
    }
    for (i = 0; i < peer_len && n < 60; i++) {
        argv[n++] = peer_cmd[i];
    }
    argv[n++] = (char *)"peer";
    argv[n++] = (char *)mode;
    argv[n++] = connection;
    argv[n] = NULL;
    if (!child_start(c, argv)) {
        return false;
    }
    /* Wait for the hello in steps, to notice a peer that could not start
     * (a wrong --peer) at once rather than after the safety net. */
    memset(hello, 0, sizeof *hello);
    for (i = 0; i < 600; i++) {
        ipc_limits limits;
        int code = 0;
        ipc_limits_default(&limits);
        r = ipc_message_recv(s->msg_in, &limits, 100 * MS, decode_scalars, hello);
        if (r != IPC_TIMEOUT) {
            break;
        }
        if (child_exited(c, &code)) {
            fprintf(stderr, "the peer %s exited with %d before it said hello\n", argv[0], code);
            return false;
        }
    }
    if (r == IPC_OK && (hello->header.id != MSG_HELLO || hello->count < 2)) {
        r = IPC_UNEXPECTED_ID;
    }
    if (r == IPC_OK) {
        /* The peer is attached: from now on its death wakes our waits. */
        r = ipc_segment_watch_peer(s->segment, &watching);
    }
    return expect(r, IPC_OK, "hello");
}

static int host_main(char **peer_cmd, int peer_len) {
    session s;
    child c;
    received hello, end;
    ipc_limits limits;
    ipc_result r;
    int code;
    char line[256];
    ipc_limits_default(&limits);
    memset(&c, 0, sizeof c);

    printf("libipc C example: %s host, %lu-bit\n", platform_name(),
           (unsigned long)(sizeof(void *) * 8));
    if (start_session(&s, &c, peer_cmd, peer_len, "serve", &hello)) {
        snprintf(line, sizeof line,
                 "a %s peer (%lu-bit, pid %lu) opened the segment (%u channels of %u bytes) "
                 "and said hello",
                 hello.text, (unsigned long)hello.values[0], (unsigned long)hello.values[1],
                 CHANNELS, RING);
        check(true, line);
        check_shapes(&s);
        check_blobs(&s);
        check_raw(&s);
        check_zero_copy(&s);
        check_timeouts(&s);

        /* A peer that quits closes its channels: the host drains and sees
         * the end. */
        r = send_uints(s.msg_out, MSG_QUIT, 0, 0, NULL, 0);
        if (r == IPC_OK) {
            memset(&end, 0, sizeof end);
            r = ipc_message_recv(s.msg_in, &limits, SAFETY_NET, decode_scalars, &end);
        }
        code = child_wait(&c);
        check(expect(r, IPC_CLOSED, "after quit") && code == 0,
              "a peer that quits is reported as closed (IPC_CLOSED) and exits with 0");
    } else {
        check(false, "the peer opened the segment and said hello");
        child_kill(&c);
        child_wait(&c);
    }
    session_free(&s);

    /* A peer that is killed: the host's wait ends with IPC_PEER_DIED. */
    if (start_session(&s, &c, peer_cmd, peer_len, "hang", &hello)) {
        child_kill(&c);
        memset(&end, 0, sizeof end);
        r = ipc_message_recv(s.msg_in, &limits, SAFETY_NET, decode_scalars, &end);
        code = child_wait(&c);
        snprintf(line, sizeof line,
                 "a peer that is killed while the host waits is reported as dead "
                 "(IPC_PEER_DIED; exit code %d)",
                 code);
        check(expect(r, IPC_PEER_DIED, "after kill"), line);
    } else {
        check(false, "a second peer opened the segment");
        child_kill(&c);
        child_wait(&c);
    }
    session_free(&s);

    /* The line `cargo xtask ci` counts. */
    printf("test result: %s. %u passed; %u failed\n", failed ? "FAILED" : "ok", passed, failed);
    return failed ? 1 : 0;
}

static void init_contents(void) {
    uint32_t i;
    str_bytes = (uint8_t *)malloc(CONTENT_MAX);
    bin_bytes = (uint8_t *)malloc(CONTENT_MAX);
    if (!str_bytes || !bin_bytes) {
        abort();
    }
    for (i = 0; i < CONTENT_MAX; i++) {
        str_bytes[i] = (uint8_t)('a' + i % 26);
        bin_bytes[i] = pattern(9, i);
    }
}

int main(int argc, char **argv) {
    int status;
    init_contents();
    if (argc == 4 && strcmp(argv[1], "peer") == 0) {
        status = peer_main(argv[2], argv[3]);
    } else if (argc >= 3 && strcmp(argv[1], "--peer") == 0) {
        status = host_main(argv + 2, argc - 2);
    } else if (argc == 1) {
#if defined(_WIN32)
        static char self[1024];
        char *cmd[1];
        GetModuleFileNameA(NULL, self, sizeof self);
        cmd[0] = self;
#else
        char *cmd[1];
        cmd[0] = argv[0];
#endif
        status = host_main(cmd, 1);
    } else {
        fprintf(stderr, "usage: %s [--peer COMMAND [ARGS...]]\n", argv[0]);
        status = 2;
    }
    free(str_bytes);
    free(bin_bytes);
    return status;
}
