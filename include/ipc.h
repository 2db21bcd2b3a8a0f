/*
 * ipc.h: the C interface of libipc, the shared-memory IPC for audio plugin
 * hosts (channels, messages, links). Generated from ffi/ by
 * `cargo xtask codegen`: do not edit; see docs/C_CPP.md.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#ifndef IPC_H
#define IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


// Wait forever: as a `timeout_ns` argument.
#define IPC_FOREVER UINT64_MAX

// The sender expects a reply with the same correlation number.
#define IPC_FLAG_REQUEST 1

// This message answers the request with the same correlation number.
#define IPC_FLAG_REPLY 2

// The request failed (with `IPC_FLAG_REPLY`).
#define IPC_FLAG_ERROR 4

// The result of every fallible call: `IPC_OK` (0), an error kind of the
// link layer (1 to 99, the numbers of `ipc_link::ErrorKind`, stable), or an
// error of the C interface itself (100 and up). Numbers are never reused.
enum ipc_result
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // Success.
  IPC_OK = 0,
  // The peer closed the link or channel.
  IPC_CLOSED = 1,
  // The peer process died without closing.
  IPC_PEER_DIED = 2,
  // A wait ended before what it waited for came.
  IPC_TIMEOUT = 3,
  // The peer wrote impossible values into shared memory.
  IPC_CORRUPTED = 4,
  // The peer's messages cannot be followed any more.
  IPC_FRAMING = 5,
  // A message was larger than the receiver's limit (it was skipped).
  IPC_TOO_LARGE = 6,
  // A payload did not decode (it was skipped).
  IPC_MALFORMED = 7,
  // A message of another type (ID) came than the one expected.
  IPC_UNEXPECTED_ID = 8,
  // A value could not be encoded (nothing was sent).
  IPC_ENCODE = 9,
  // The two sides do not speak the same protocol.
  IPC_HANDSHAKE = 10,
  // The plugin process could not be started.
  IPC_SPAWN = 11,
  // The plugin process exited before it connected.
  IPC_PLUGIN_EXITED = 12,
  // A request came that no handler takes.
  IPC_NO_HANDLER = 13,
  // A handler is already registered for this ID.
  IPC_HANDLER_EXISTS = 14,
  // A handler failed while handling a message (in Rust: it panicked).
  IPC_HANDLER_PANICKED = 15,
  // The peer answered the request with an error.
  IPC_REMOTE = 16,
  // A handler rejected the request (the cause of an `IPC_REMOTE`).
  IPC_REJECTED = 17,
  // An argument is out of range.
  IPC_INVALID_ARGUMENT = 18,
  // An endpoint or segment was claimed already.
  IPC_ALREADY_CLAIMED = 19,
  // The shared memory has another layout version.
  IPC_VERSION_MISMATCH = 20,
  // The operating system refused.
  IPC_OS = 21,
  // A pointer argument was NULL.
  IPC_NULL_ARGUMENT = 100,
  // The library failed inside (a bug); the call had no effect that can
  // be relied upon. It never unwinds into the caller.
  IPC_PANIC = 101,
  // A buffer the caller passed is too small (the needed size is in the
  // length out-parameter).
  IPC_BUFFER_TOO_SMALL = 102,
  // A string argument is not UTF-8.
  IPC_INVALID_UTF8 = 103,
  // The object was taken already (a real-time end, once).
  IPC_TAKEN = 104,
  // A decoder reached the end of its payload.
  IPC_END = 105,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ipc_result ipc_result;
#else
typedef uint32_t ipc_result;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// The kind of an `ipc_token`.
enum ipc_token_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // `nil`.
  IPC_TOKEN_NIL = 0,
  // `boolean`.
  IPC_TOKEN_BOOL = 1,
  // A non-negative integer in `uint`.
  IPC_TOKEN_UINT = 2,
  // A negative integer in `sint` (non-negative ones are `UINT`).
  IPC_TOKEN_INT = 3,
  // A `float 32` in `real`.
  IPC_TOKEN_F32 = 4,
  // A `float 64` in `real`.
  IPC_TOKEN_F64 = 5,
  // A UTF-8 string of `len` bytes, which follow.
  IPC_TOKEN_STR = 6,
  // A byte string of `len` bytes, which follow.
  IPC_TOKEN_BIN = 7,
  // An array of `len` values, which follow.
  IPC_TOKEN_ARRAY = 8,
  // A map of `len` key-value pairs, which follow.
  IPC_TOKEN_MAP = 9,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ipc_token_kind ipc_token_kind;
#else
typedef uint32_t ipc_token_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// Planar `float` audio channels shared by host and plugin (inputs
// first, then outputs), lent by the caller or to the serving handler.
typedef struct ipc_audio ipc_audio;

// Where a decode callback reads a payload (valid during the callback).
typedef struct ipc_decoder ipc_decoder;

// Where an encode callback writes a payload (valid during the callback).
typedef struct ipc_encoder ipc_encoder;

// A running plugin process and the host's ends of its links (free it
// with `ipc_host_free`, or end it with `ipc_host_shutdown`).
typedef struct ipc_host ipc_host;

// A message being handled, lent to a handler for the call.
typedef struct ipc_incoming ipc_incoming;

// One side of the main link, lent by its host or plugin (valid as long
// as they are). Usable from any thread.
typedef struct ipc_main_link ipc_main_link;

// The plugin's ends of the links (free it with `ipc_plugin_free`).
typedef struct ipc_plugin ipc_plugin;

// The reading end of a channel, owned by one thread at a time.
typedef struct ipc_reader ipc_reader;

// A shared region of plain bytes (free it with `ipc_region_free`; the
// mapping goes with the handle).
typedef struct ipc_region ipc_region;

// How a serving handler answers its request (lent for the call).
typedef struct ipc_responder ipc_responder;

// The host's end of the real-time link, owned by the audio thread.
typedef struct ipc_rt_caller ipc_rt_caller;

// The plugin's end of the real-time link, owned by its real-time thread.
typedef struct ipc_rt_server ipc_rt_server;

// A shared segment of channels (a handle: free it with
// `ipc_segment_free`; writers and readers keep the memory alive).
typedef struct ipc_segment ipc_segment;

// The writing end of a channel, owned by one thread at a time.
typedef struct ipc_writer ipc_writer;

// What one endpoint has done since it was made.
typedef struct {
  // Wake-ups sent to the peer (each one system call).
  uint64_t signals;
  // Times the endpoint had to wait for its peer.
  uint64_t waits;
  // Waits the bounded spin ended without sleeping.
  uint64_t spin_hits;
  // Times it slept in the kernel.
  uint64_t sleeps;
  // Blobs the writer published (0 for a reader).
  uint64_t commits;
  // Bytes written or read.
  uint64_t bytes;
} ipc_stats;

// Bounds on incoming messages.
typedef struct {
  // Largest payload accepted, in bytes (default 256 MiB).
  uint32_t max_message;
  // Deepest nesting (default 64).
  uint32_t max_depth;
  // How long the rest of a message may take once its envelope arrived,
  // in nanoseconds (`IPC_FOREVER`: no bound; default 10 s).
  uint64_t payload_timeout_ns;
} ipc_limits;

// Sizes and bounds of a link (see `LinkConfig` of ipc-link: the ring
// capacities are the host's; every other field is each side's own).
typedef struct {
  // Ring size of each main-link channel (a power of two, 64 B to 1 GiB).
  size_t main_capacity;
  // Ring size of each real-time channel.
  size_t rt_capacity;
  // How long the handshake may take, in nanoseconds.
  uint64_t connect_timeout_ns;
  // How long a main-link send may wait for ring space, in nanoseconds.
  uint64_t send_timeout_ns;
  // Whether `ipc_host_spawn` also appends the connection string to the
  // plugin's arguments (it is always in `IPC_LINK_CONNECTION`).
  bool connection_argument;
  // Bounds on incoming messages.
  ipc_limits limits;
} ipc_config;

// Registers main-link handlers before any message is dispatched; returns
// an `ipc_result` (anything but `IPC_OK` aborts the spawn or connect).
typedef uint32_t (*ipc_setup_fn)(void *user, const ipc_main_link *link);

// How a plugin ended under `ipc_host_shutdown`.
typedef struct {
  // It did not exit in time and was killed.
  bool killed;
  // It exited by itself with status 0.
  bool success;
  // Its exit code, or -1 if a signal ended it.
  int32_t code;
} ipc_ended;

// Why a plugin should stop.
typedef struct {
  // The host asked it to quit (or closed the link cleanly).
  bool quit;
  // Otherwise, how the link went down (an `ipc_result`).
  uint32_t reason;
} ipc_stop;

// A message's envelope.
typedef struct {
  // The message type's ID.
  uint32_t id;
  // Ties a reply to its request (0: none).
  uint32_t correlation;
  // `IPC_FLAG_REQUEST`, `IPC_FLAG_REPLY`, `IPC_FLAG_ERROR`.
  uint8_t flags;
  // Payload bytes.
  uint32_t len;
} ipc_header;

// The first step of a handler: reads the payload in place (while the
// link's reader is held: decode only, never wait here) into something of
// the caller's, whose pointer goes to `message_out`; returns an
// `ipc_result` (a request whose decode fails is answered with that error).
typedef uint32_t (*ipc_message_decode_fn)(void *user,
                                          const ipc_header *header,
                                          ipc_decoder *payload,
                                          void **message_out);

// The second step of a handler, on the listener thread: handles what
// `decode` made (and frees it); may send, reply and make requests.
typedef void (*ipc_message_handle_fn)(void *user, void *message, const ipc_incoming *incoming);

// Frees user data (called once, when the library no longer needs it).
typedef void (*ipc_free_fn)(void *user);

// Gets a message no handler takes (its payload skipped; a request among
// them was answered with `IPC_NO_HANDLER`).
typedef void (*ipc_unknown_fn)(void *user, const ipc_header *header);

// Learns why the link went down (an `ipc_result`).
typedef void (*ipc_disconnect_fn)(void *user, uint32_t reason);

// Writes a payload into `encoder`; returns an `ipc_result` (anything but
// `IPC_OK` cancels the message: it is not sent, and the send returns that
// code). It may be called twice for one message (first to count, then to
// write, for a message larger than the free space): it must write the same
// bytes each time.
typedef uint32_t (*ipc_encode_fn)(void *user, ipc_encoder *encoder);

// Gets the outcome of a request made with `ipc_main_link_request`: an
// `ipc_result`, and on `IPC_OK` what the reply decoder made. On the
// listener thread.
typedef void (*ipc_reply_fn)(void *user, uint32_t result, void *reply);

// Reads a payload from `decoder` (what it leaves is skipped); returns an
// `ipc_result`, which the receive returns.
typedef uint32_t (*ipc_decode_fn)(void *user, const ipc_header *header, ipc_decoder *decoder);

// The head of one MessagePack value.
typedef struct {
  // What it is (an `ipc_token_kind`); the field below that goes with it
  // holds its value.
  uint32_t kind;
  // For `IPC_TOKEN_BOOL`.
  bool boolean;
  // For `IPC_TOKEN_UINT`.
  uint64_t uint;
  // For `IPC_TOKEN_INT`.
  int64_t sint;
  // For `IPC_TOKEN_F32` and `IPC_TOKEN_F64`.
  double real;
  // For `IPC_TOKEN_STR`, `_BIN`, `_ARRAY`, `_MAP`.
  uint32_t len;
} ipc_token;

// Serves one real-time request: reads it in place from `payload` (the
// header's ID says its type: check it), renders into `audio` (NULL if the
// host attached none), and answers once through `responder`. Returns an
// `ipc_result`: anything but `IPC_OK`, or no answer, answers the host's
// call with an error. On the real-time thread: allocate nothing, wait for
// nothing.
typedef uint32_t (*ipc_rt_handler_fn)(void *user,
                                      const ipc_header *header,
                                      ipc_decoder *payload,
                                      ipc_audio *audio,
                                      ipc_responder *responder);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// Copies the calling thread's last error description (UTF-8, not
// NUL-terminated) into `buf`, at most `capacity` bytes; its full length
// goes to `len_out`. Only failing calls set it; it describes the last one
// on this thread.
//
// Thread-safe (per thread); real-time safe.
//
// # Errors
// `IPC_BUFFER_TOO_SMALL` if it was cut (`len_out` has the full length).
//
// # Safety
// `buf` points to `capacity` writable bytes; `len_out` is writable.
ipc_result ipc_last_error(uint8_t *buf, size_t capacity, size_t *len_out);

// The fixed description of a result code (a static, NUL-terminated
// string; "unknown result code" for a number that is none).
//
// Thread-safe; real-time safe.
const char *ipc_result_str(uint32_t result);

// Creates a segment in the system's shared memory with `count` channels of
// `capacities[i]` bytes each (powers of two, 64 bytes to 1 GiB; 1 to 64
// channels). Pass its connection string (`ipc_segment_connection_string`)
// to the peer process, which opens it with `ipc_segment_open`.
//
// Thread-safe. Not real-time safe (maps and locks memory).
//
// # Safety
// `capacities` points to `count` values; `segment_out` is writable.
ipc_result ipc_segment_create(const size_t *capacities, size_t count, ipc_segment **segment_out);

// Opens the segment named by `connection` (made by `ipc_segment_create`
// in another process) and checks all its headers.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `connection` is a NUL-terminated string; `segment_out` is writable.
ipc_result ipc_segment_open(const char *connection, ipc_segment **segment_out);

// Frees a segment handle (NULL: nothing). Endpoints made from it stay
// valid; the memory goes when the last of them does.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `segment` came from `ipc_segment_create`/`ipc_segment_open` and is not
// used afterwards.
void ipc_segment_free(ipc_segment *segment);

// Copies the connection string of a segment this process created (ASCII,
// safe on a command line and in an environment variable) into `buf`.
//
// Thread-safe. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if the segment has none.
//
// # Safety
// `segment` is valid; `buf` points to `capacity` writable bytes, into
// which the string and its NUL are copied (`IPC_BUFFER_TOO_SMALL`
// otherwise); `len_out` is writable and gets the string's length without
// the NUL (also when the buffer is too small: the length needed).
ipc_result ipc_segment_connection_string(const ipc_segment *segment,
                                         char *buf,
                                         size_t capacity,
                                         size_t *len_out);

// Claims the writing end of `channel`.
//
// Thread-safe. Not real-time safe (allocates the endpoint).
//
// # Errors
// `IPC_INVALID_ARGUMENT` for a channel out of range, `IPC_ALREADY_CLAIMED`.
//
// # Safety
// `segment` is valid; `writer_out` is writable.
ipc_result ipc_segment_writer(const ipc_segment *segment, size_t channel, ipc_writer **writer_out);

// Claims the reading end of `channel`.
//
// Thread-safe. Not real-time safe (allocates the endpoint).
//
// # Errors
// As for `ipc_segment_writer`.
//
// # Safety
// `segment` is valid; `reader_out` is writable.
ipc_result ipc_segment_reader(const ipc_segment *segment, size_t channel, ipc_reader **reader_out);

// Closes this process's ends of `channel` from any thread, while they may
// be in use on others: a reader drains what was committed, then gets
// `IPC_CLOSED` (a sleeping one wakes); a writer gets `IPC_CLOSED`; the
// peer sees the channel closed.
//
// Thread-safe. Real-time safe.
//
// # Safety
// `segment` is valid.
ipc_result ipc_segment_close(const ipc_segment *segment, size_t channel);

// Starts watching the peer process now (Linux: a thread that wakes this
// process's sleepers the moment it dies) and, on the creating side, makes
// the segment impossible to open from now on. Call it once the peer has
// opened the segment, from a thread that may allocate. `watching_out`
// says whether a watch runs.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `segment` is valid; `watching_out` is writable.
ipc_result ipc_segment_watch_peer(const ipc_segment *segment, bool *watching_out);

// Frees a writer (NULL: nothing): publishes what was written and closes
// the channel; the reader drains it, then sees the end.
//
// Not thread-safe with other calls on the same writer. Real-time safe.
//
// # Safety
// `writer` came from `ipc_segment_writer` and is not used afterwards.
void ipc_writer_free(ipc_writer *writer);

// Frees a reader (NULL: nothing): the writer then gets `IPC_CLOSED`.
//
// Not thread-safe with other calls on the same reader. Real-time safe.
//
// # Safety
// `reader` came from `ipc_segment_reader` and is not used afterwards.
void ipc_reader_free(ipc_reader *reader);

// Appends `len` bytes to the current blob, waiting for space at most
// `timeout_ns` in all (`IPC_FOREVER`: as long as it takes; 0: not at all).
// `written_out` gets how many were appended (fewer than `len` only when
// the timeout passed after some progress). Nothing is visible to the
// reader before `ipc_writer_commit`.
//
// Not thread-safe on one writer. Real-time safe (no allocation; it waits
// only as long as told).
//
// # Errors
// `IPC_TIMEOUT` if not a byte fitted, `IPC_CLOSED`, `IPC_PEER_DIED`,
// `IPC_CORRUPTED`.
//
// # Safety
// `writer` is valid; `data` has `len` readable bytes; `written_out` is
// writable.
ipc_result ipc_writer_write(ipc_writer *writer,
                            const uint8_t *data,
                            size_t len,
                            uint64_t timeout_ns,
                            size_t *written_out);

// Publishes the current blob (one wake-up of the reader, if it sleeps).
// Never waits.
//
// Not thread-safe on one writer. Real-time safe.
//
// # Errors
// `IPC_CLOSED` if the reader has gone, `IPC_CORRUPTED`.
//
// # Safety
// `writer` is valid.
ipc_result ipc_writer_commit(ipc_writer *writer);

// Lends at least `min` bytes of free ring space for writing in place, as
// one span (`first_out`, `first_len_out`) and the part after the wrap
// (`second_out`, `second_len_out`, maybe empty), waiting at most
// `timeout_ns`. Write into them, then `ipc_writer_advance` by what was
// written; the spans stay valid until the next call on this writer.
//
// Not thread-safe on one writer. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if `min` exceeds the capacity, `IPC_TIMEOUT`, or
// as for `ipc_writer_write`.
//
// # Safety
// `writer` is valid; the four out-parameters are writable.
ipc_result ipc_writer_reserve(ipc_writer *writer,
                              size_t min,
                              uint64_t timeout_ns,
                              uint8_t **first_out,
                              size_t *first_len_out,
                              uint8_t **second_out,
                              size_t *second_len_out);

// Appends the first `n` bytes of the space `ipc_writer_reserve` lent to
// the current blob.
//
// Not thread-safe on one writer. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if `n` is more than is free.
//
// # Safety
// `writer` is valid.
ipc_result ipc_writer_advance(ipc_writer *writer, size_t n);

// Closes the channel now without publishing what was appended since the
// last commit (a blob that cannot be finished); later calls give
// `IPC_CLOSED`.
//
// Not thread-safe on one writer. Real-time safe.
//
// # Safety
// `writer` is valid.
ipc_result ipc_writer_close(ipc_writer *writer);

// Closes the channel from the reading end now: what was not read is
// dropped, the writer's next call gives `IPC_CLOSED`, and so does every
// later call here (a reader that can no longer follow its stream).
//
// Not thread-safe on one reader. Real-time safe.
//
// # Safety
// `reader` is valid.
ipc_result ipc_reader_close(ipc_reader *reader);

// Reads at least one byte into `buf` (as many as are there and fit),
// waiting at most `timeout_ns`; `read_out` gets how many.
//
// Not thread-safe on one reader. Real-time safe.
//
// # Errors
// `IPC_TIMEOUT` (nothing consumed), `IPC_CLOSED` at the end of the stream,
// `IPC_PEER_DIED` once a dead writer's data is drained, `IPC_CORRUPTED`.
//
// # Safety
// `reader` is valid; `buf` has `len` writable bytes; `read_out` is
// writable.
ipc_result ipc_reader_read(ipc_reader *reader,
                           uint8_t *buf,
                           size_t len,
                           uint64_t timeout_ns,
                           size_t *read_out);

// Fills all `len` bytes of `buf`, waiting at most `timeout_ns` in all
// (when `len` fits in the ring, a timeout consumes nothing).
//
// Not thread-safe on one reader. Real-time safe.
//
// # Errors
// As for `ipc_reader_read`.
//
// # Safety
// `reader` is valid; `buf` has `len` writable bytes.
ipc_result ipc_reader_read_exact(ipc_reader *reader, uint8_t *buf, size_t len, uint64_t timeout_ns);

// Lends the readable bytes for reading in place once at least `min` are
// there (fewer only at the end of the stream), waiting at most
// `timeout_ns`: one span and the part after the wrap (maybe empty). They
// stay valid until the next call on this reader; `ipc_reader_consume`
// hands bytes back. The bytes come from the peer: untrusted input.
//
// Not thread-safe on one reader. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if `min` exceeds the capacity, `IPC_TIMEOUT`, or
// as for `ipc_reader_read`.
//
// # Safety
// `reader` is valid; the four out-parameters are writable.
ipc_result ipc_reader_peek(ipc_reader *reader,
                           size_t min,
                           uint64_t timeout_ns,
                           const uint8_t **first_out,
                           size_t *first_len_out,
                           const uint8_t **second_out,
                           size_t *second_len_out);

// Consumes the first `n` readable bytes (handing the space back to the
// writer, which wakes if it waits for it).
//
// Not thread-safe on one reader. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if fewer than `n` bytes are readable.
//
// # Safety
// `reader` is valid.
ipc_result ipc_reader_consume(ipc_reader *reader, size_t n);

// Spins for up to `spin_ns` re-checking before sleeping (0, the default,
// sleeps at once). Bounded: never a busy loop without end.
//
// Not thread-safe on one writer. Real-time safe.
//
// # Safety
// `writer` is valid.
ipc_result ipc_writer_set_spin(ipc_writer *writer, uint64_t spin_ns);

// As `ipc_writer_set_spin`, for a reader.
//
// Not thread-safe on one reader. Real-time safe.
//
// # Safety
// `reader` is valid.
ipc_result ipc_reader_set_spin(ipc_reader *reader, uint64_t spin_ns);

// The writer's counters.
//
// Not thread-safe on one writer. Real-time safe.
//
// # Safety
// `writer` is valid; `stats_out` is writable.
ipc_result ipc_writer_stats(const ipc_writer *writer, ipc_stats *stats_out);

// The reader's counters.
//
// Not thread-safe on one reader. Real-time safe.
//
// # Safety
// `reader` is valid; `stats_out` is writable.
ipc_result ipc_reader_stats(const ipc_reader *reader, ipc_stats *stats_out);

// A frees-nothing `ipc_free_fn`, for user data the caller frees itself.
//
// Thread-safe; real-time safe.
void ipc_free_nothing(void *_user);

// The default configuration (1 MiB main rings, 64 KiB real-time rings,
// 10 s connect and send timeouts, the connection string also as the last
// argument, the default limits).
//
// Thread-safe; real-time safe.
//
// # Safety
// `config_out` is writable.
ipc_result ipc_config_default(ipc_config *config_out);

// Starts `program` with `arg_count` arguments (`args`, may be an empty
// array but not NULL) and the link's connection string, waits for its
// handshake (at most `config->connect_timeout_ns`); `setup` registers
// main-link handlers before any message is dispatched (it runs on this
// thread, before this returns).
//
// Thread-safe. Not real-time safe (starts a process).
//
// # Errors
// `IPC_SPAWN` (a missing program: see `ipc_last_error`),
// `IPC_PLUGIN_EXITED`, `IPC_TIMEOUT`, `IPC_HANDSHAKE`,
// `IPC_INVALID_ARGUMENT` (a bad configuration, or `setup` failed).
//
// # Safety
// `program` and the `args` strings are NUL-terminated; `config` is valid;
// `setup` is a valid callback; `host_out` is writable.
ipc_result ipc_host_spawn(const char *program,
                          const char *const *args,
                          size_t arg_count,
                          const ipc_config *config,
                          ipc_setup_fn setup,
                          void *user,
                          ipc_host **host_out);

// Frees a host (NULL: nothing): closes its ends of both links and kills
// the plugin if it still runs (no orphans). `ipc_host_shutdown` asks it to
// quit first.
//
// Thread-safe (once). Not real-time safe.
//
// # Safety
// `host` came from `ipc_host_spawn` and is not used afterwards.
void ipc_host_free(ipc_host *host);

// Clean shutdown, which frees the host: sends `Quit` (which ends the
// plugin's real-time serving loop and its wait for stop), closes this
// side's ends of both links (whether or not the audio thread still holds
// the real-time caller), waits at most `timeout_ns` for the plugin to
// exit, then kills it. `ended_out` says which.
//
// Thread-safe (once). Not real-time safe.
//
// # Errors
// `IPC_OS` if the process cannot be waited for (the host is freed all the
// same).
//
// # Safety
// `host` came from `ipc_host_spawn` and is not used afterwards;
// `ended_out` is writable.
ipc_result ipc_host_shutdown(ipc_host *host, uint64_t timeout_ns, ipc_ended *ended_out);

// The host's main link (valid as long as the host).
//
// Thread-safe. Real-time safe.
//
// # Safety
// `host` is valid; `link_out` is writable.
ipc_result ipc_host_main_link(const ipc_host *host, const ipc_main_link **link_out);

// Takes the host's end of the real-time link (once), to give to the audio
// thread; free it with `ipc_rt_caller_free`.
//
// Not thread-safe with other calls on the host. Not real-time safe.
//
// # Errors
// `IPC_TAKEN` the second time.
//
// # Safety
// `host` is valid; `rt_out` is writable.
ipc_result ipc_host_take_rt(ipc_host *host, ipc_rt_caller **rt_out);

// The plugin's process ID.
//
// Thread-safe. Real-time safe.
//
// # Safety
// `host` is valid; `pid_out` is writable.
ipc_result ipc_host_plugin_pid(const ipc_host *host, uint32_t *pid_out);

// Whether the plugin process has exited (reaping it if so): `exited_out`,
// and its exit code in `code_out` (-1 for a signal; untouched while it
// runs).
//
// Not thread-safe with other calls on the host. Not real-time safe.
//
// # Safety
// `host` is valid; `exited_out` and `code_out` are writable.
ipc_result ipc_host_try_wait(ipc_host *host, bool *exited_out, int32_t *code_out);

// Kills the plugin process at once and reaps it.
//
// Not thread-safe with other calls on the host. Not real-time safe.
//
// # Safety
// `host` is valid.
ipc_result ipc_host_kill(ipc_host *host);

// Connects to the link named by `connection` (the host passes it in
// `IPC_LINK_CONNECTION` and as the last argument), handshakes (a host that
// dies meanwhile is noticed at once), runs `setup` to register handlers,
// then starts listening.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` for a malformed string, `IPC_OS` if the link does
// not exist (any more), `IPC_HANDSHAKE`, `IPC_TIMEOUT`, `IPC_PEER_DIED`.
//
// # Safety
// `connection` is NUL-terminated; `config` is valid; `setup` is a valid
// callback; `plugin_out` is writable.
ipc_result ipc_plugin_connect(const char *connection,
                              const ipc_config *config,
                              ipc_setup_fn setup,
                              void *user,
                              ipc_plugin **plugin_out);

// `ipc_plugin_connect` with the connection string from the environment
// (`IPC_LINK_CONNECTION`, or the last argument of the process).
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if there is none; as for `ipc_plugin_connect`.
//
// # Safety
// As for `ipc_plugin_connect`.
ipc_result ipc_plugin_connect_from_env(const ipc_config *config,
                                       ipc_setup_fn setup,
                                       void *user,
                                       ipc_plugin **plugin_out);

// Frees the plugin's ends (NULL: nothing): the host sees the links closed
// (a clean exit, not a crash).
//
// Thread-safe (once). Not real-time safe.
//
// # Safety
// `plugin` came from `ipc_plugin_connect*` and is not used afterwards.
void ipc_plugin_free(ipc_plugin *plugin);

// The plugin's main link (valid as long as the plugin).
//
// Thread-safe. Real-time safe.
//
// # Safety
// `plugin` is valid; `link_out` is writable.
ipc_result ipc_plugin_main_link(const ipc_plugin *plugin, const ipc_main_link **link_out);

// Takes the plugin's end of the real-time link (once), to give to its
// real-time thread; free it with `ipc_rt_server_free`.
//
// Not thread-safe with other calls on the plugin. Not real-time safe.
//
// # Errors
// `IPC_TAKEN` the second time.
//
// # Safety
// `plugin` is valid; `rt_out` is writable.
ipc_result ipc_plugin_take_rt(ipc_plugin *plugin, ipc_rt_server **rt_out);

// Waits until the host says `Quit`, closes the link or goes away, at most
// `timeout_ns` (`IPC_FOREVER`: as long as it takes). A plugin returns from
// `main` after this, so it never outlives its host.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_TIMEOUT` if none of that happened in time.
//
// # Safety
// `plugin` is valid; `stop_out` is writable.
ipc_result ipc_plugin_wait_for_stop(const ipc_plugin *plugin,
                                    uint64_t timeout_ns,
                                    ipc_stop *stop_out);

// Handles every incoming message with ID `id`, in two steps: `decode`
// reads the payload in place while the reader is held and makes a
// message, `handle` handles it afterwards on the listener thread (and
// frees it). `free_user` frees `user` when the handler goes (with the
// link, or `ipc_main_link_remove_handler`). Both callbacks run on the
// listener thread.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_HANDLER_EXISTS` if `id` has a handler already (nothing replaces
// one silently), `IPC_INVALID_ARGUMENT` for an ID reserved for the link.
//
// # Safety
// `link` is valid; the callbacks are valid for as long as the handler is
// registered, and `user` may be used from the listener thread.
ipc_result ipc_main_link_on(const ipc_main_link *link,
                            uint32_t id,
                            ipc_message_decode_fn decode,
                            ipc_message_handle_fn handle,
                            void *user,
                            ipc_free_fn free_user);

// Removes the handler for `id`; `removed_out` says whether there was one.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `link` is valid; `removed_out` is writable.
ipc_result ipc_main_link_remove_handler(const ipc_main_link *link, uint32_t id, bool *removed_out);

// Gets messages no handler takes (after their payload was skipped; a
// request among them was answered with `IPC_NO_HANDLER`). On the listener
// thread.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `link` is valid; `unknown` is valid as long as the link; `user` may be
// used from the listener thread.
ipc_result ipc_main_link_on_unknown(const ipc_main_link *link,
                                    ipc_unknown_fn unknown,
                                    void *user,
                                    ipc_free_fn free_user);

// Calls `disconnect` once when the link goes down (at once if it is down
// already), with why (an `ipc_result`); then frees `user`.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `link` is valid; `disconnect` is valid until it ran; `user` may be used
// from the listener thread.
ipc_result ipc_main_link_on_disconnect(const ipc_main_link *link,
                                       ipc_disconnect_fn disconnect,
                                       void *user,
                                       ipc_free_fn free_user);

// Whether the link is up.
//
// Thread-safe. Real-time safe (a short lock).
//
// # Safety
// `link` is valid; `connected_out` is writable.
ipc_result ipc_main_link_is_connected(const ipc_main_link *link, bool *connected_out);

// Waits until the link goes down, at most `timeout_ns`; `reason_out` gets
// why (an `ipc_result`).
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_TIMEOUT` if it is still up.
//
// # Safety
// `link` is valid; `reason_out` is writable.
ipc_result ipc_main_link_wait_disconnected(const ipc_main_link *link,
                                           uint64_t timeout_ns,
                                           uint32_t *reason_out);

// Closes this side's sending end: the peer drains what was sent, then sees
// the link close.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `link` is valid.
ipc_result ipc_main_link_close(const ipc_main_link *link);

// Sends a message of ID `id` whose payload `encode` writes (it runs on
// this thread, once, or twice for a message larger than the free space),
// waiting for ring space at most the link's send timeout. Messages from
// one thread arrive in the order sent.
//
// Thread-safe. Not real-time safe (waits for other senders).
//
// # Errors
// `IPC_CLOSED`/`IPC_PEER_DIED` once the link is down, `IPC_TIMEOUT` if the
// peer does not read, what `encode` returned.
//
// # Safety
// `link` is valid; `encode` is a valid callback.
ipc_result ipc_main_link_send(const ipc_main_link *link,
                              uint32_t id,
                              ipc_encode_fn encode,
                              void *user);

// Like `ipc_main_link_send`, waiting for space at most `timeout_ns` (0:
// only if it fits now). A message that fits in the ring is sent whole or
// not at all; a larger one cut by the timeout closes the link.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// As for `ipc_main_link_send`.
//
// # Safety
// As for `ipc_main_link_send`.
ipc_result ipc_main_link_send_timeout(const ipc_main_link *link,
                                      uint32_t id,
                                      uint64_t timeout_ns,
                                      ipc_encode_fn encode,
                                      void *user);

// Sends a request of ID `id` (payload from `encode`, on this thread);
// when its reply comes, `decode` reads it in place (the header's ID is the
// reply's type: check it) and makes a reply, and `on_reply` gets the
// outcome (an error reply or the link going down skip `decode`); both on
// the listener thread. Then `user` is freed.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// As for `ipc_main_link_send` (then no callback runs, and `user` is
// freed).
//
// # Safety
// `link` is valid; the callbacks are valid until `free_user` ran; `user`
// may be used from the listener thread.
ipc_result ipc_main_link_request(const ipc_main_link *link,
                                 uint32_t id,
                                 ipc_encode_fn encode,
                                 void *encode_user,
                                 ipc_message_decode_fn decode,
                                 ipc_reply_fn on_reply,
                                 void *user,
                                 ipc_free_fn free_user);

// Sends a request of ID `id` and waits at most `timeout_ns` in all for its
// reply, which `decode` reads in place (on the listener thread, while this
// thread waits: it may write into memory of this thread's). Called from a
// handler, it keeps dispatching while it waits.
//
// Returns within `timeout_ns` even when the reply stops partway: the
// decoder's reads then fail at that moment with `IPC_TIMEOUT`, and it is
// never called after this function has returned.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_TIMEOUT` (a late reply is then discarded), `IPC_REMOTE` if the
// peer answered with an error (`ipc_last_error` says which), what
// `decode` returned, or as for `ipc_main_link_send`.
//
// # Safety
// `link` is valid; `encode` and `decode` are valid callbacks.
ipc_result ipc_main_link_request_timeout(const ipc_main_link *link,
                                         uint32_t id,
                                         ipc_encode_fn encode,
                                         void *encode_user,
                                         ipc_decode_fn decode,
                                         void *decode_user,
                                         uint64_t timeout_ns);

// The envelope of the message being handled.
//
// Real-time safe. Only within the handler.
//
// # Safety
// `incoming` is the handler's; `header_out` is writable.
ipc_result ipc_incoming_header(const ipc_incoming *incoming, ipc_header *header_out);

// The link the message came on (valid for the handler's call; it may
// send, request and reply).
//
// Real-time safe. Only within the handler.
//
// # Safety
// `incoming` is the handler's; `link_out` is writable.
ipc_result ipc_incoming_link(const ipc_incoming *incoming, const ipc_main_link **link_out);

// Answers the message with a reply of ID `id` (the reply type's own ID)
// whose payload `encode` writes.
//
// Not real-time safe. Only within the handler.
//
// # Errors
// As for `ipc_main_link_send`.
//
// # Safety
// `incoming` is the handler's; `encode` is a valid callback.
ipc_result ipc_incoming_reply(const ipc_incoming *incoming,
                              uint32_t id,
                              ipc_encode_fn encode,
                              void *user);

// Answers the request with an error: the requester gets `IPC_REMOTE`
// (caused by `IPC_REJECTED`) with this text.
//
// Not real-time safe. Only within the handler.
//
// # Safety
// `incoming` is the handler's; `message` is NUL-terminated.
ipc_result ipc_incoming_reply_error(const ipc_incoming *incoming, const char *message);

// The default limits (256 MiB, depth 64, 10 s for a message to finish).
//
// Thread-safe; real-time safe.
//
// # Safety
// `limits_out` is writable.
ipc_result ipc_limits_default(ipc_limits *limits_out);

// Sends a message of ID `id` whose payload `encode` writes straight into
// the ring, then commits it (one wake-up of the reader, if it sleeps).
// Waits for space at most `timeout_ns`: a message that fits in the ring is
// sent whole or not at all; a larger one streams, and a timeout partway
// closes the writer (the reader sees the stream end inside a message).
//
// Not thread-safe on one writer. Real-time safe if `encode` is (it
// allocates nothing for a message that fits in the free space).
//
// # Errors
// What `encode` returned, `IPC_TIMEOUT`, `IPC_CLOSED`, `IPC_PEER_DIED`,
// `IPC_ENCODE` (it wrote other bytes the second time).
//
// # Safety
// `writer` is valid; `encode` is a valid callback.
ipc_result ipc_message_send(ipc_writer *writer,
                            uint32_t id,
                            uint32_t correlation,
                            uint8_t flags,
                            uint64_t timeout_ns,
                            ipc_encode_fn encode,
                            void *user);

// Receives the next message, waiting at most `timeout_ns` for it, and
// hands its envelope and payload to `decode`, which reads the payload in
// place (what it leaves is skipped). A timeout before the message began
// consumes nothing.
//
// Not thread-safe on one reader. Real-time safe if `decode` is.
//
// # Errors
// What `decode` returned (the stream stays usable), `IPC_TIMEOUT`,
// `IPC_CLOSED` at the end of the stream, `IPC_PEER_DIED`, `IPC_FRAMING`,
// `IPC_TOO_LARGE` (the message was skipped).
//
// # Safety
// `reader` and `limits` are valid; `decode` is a valid callback.
ipc_result ipc_message_recv(ipc_reader *reader,
                            const ipc_limits *limits,
                            uint64_t timeout_ns,
                            ipc_decode_fn decode,
                            void *user);

// The next span of ring memory to write the payload into; write into it,
// then `ipc_encoder_advance` by what was written. Valid until the next
// call on this encoder.
//
// Real-time safe. Only within the encode callback.
//
// # Errors
// `IPC_TIMEOUT` (a message larger than the ring waits for space),
// `IPC_ENCODE` (more bytes than the message was counted with).
//
// # Safety
// `encoder` is the callback's; `span_out` and `len_out` are writable.
ipc_result ipc_encoder_span(ipc_encoder *encoder, uint8_t **span_out, size_t *len_out);

// Marks the first `n` bytes of the last span as written.
//
// Real-time safe. Only within the encode callback.
//
// # Safety
// `encoder` is the callback's; `n` is at most the last span's length.
ipc_result ipc_encoder_advance(ipc_encoder *encoder, size_t n);

// Copies `len` bytes into the payload (pre-encoded MessagePack).
//
// Real-time safe. Only within the encode callback.
//
// # Safety
// `encoder` is the callback's; `bytes` has `len` readable bytes.
ipc_result ipc_encoder_write(ipc_encoder *encoder, const uint8_t *bytes, size_t len);

// Writes the head of one value, in the smallest format that holds it (as
// the Rust side writes it): a string's or byte string's bytes follow with
// `ipc_encoder_write`, an array's or map's values with more calls.
//
// Real-time safe. Only within the encode callback.
//
// # Safety
// `encoder` is the callback's; `token` is valid.
ipc_result ipc_encode_token(ipc_encoder *encoder, const ipc_token *token);

// Writes a string (head and `len` bytes of UTF-8; not checked here: the
// receiver checks).
//
// Real-time safe. Only within the encode callback.
//
// # Safety
// `encoder` is the callback's; `s` has `len` readable bytes.
ipc_result ipc_encode_str(ipc_encoder *encoder, const uint8_t *s, uint32_t len);

// Writes a byte string (MessagePack `bin`, what Rust's `serde_bytes`
// reads): head and `len` bytes.
//
// Real-time safe. Only within the encode callback.
//
// # Safety
// `encoder` is the callback's; `data` has `len` readable bytes.
ipc_result ipc_encode_bin(ipc_encoder *encoder, const uint8_t *data, uint32_t len);

// Payload bytes the decoder has not consumed.
//
// Real-time safe. Only within the decode callback.
//
// # Safety
// `decoder` is the callback's; `remaining_out` is writable.
ipc_result ipc_decoder_remaining(const ipc_decoder *decoder, size_t *remaining_out);

// The next bytes of the payload, in place (an empty chunk once all is
// consumed); valid until the next call on this decoder. They come from
// the peer: untrusted input.
//
// Real-time safe. Only within the decode callback.
//
// # Errors
// `IPC_TIMEOUT` (the rest did not arrive in time), `IPC_CLOSED`,
// `IPC_PEER_DIED`.
//
// # Safety
// `decoder` is the callback's; `chunk_out` and `len_out` are writable.
ipc_result ipc_decoder_chunk(ipc_decoder *decoder, const uint8_t **chunk_out, size_t *len_out);

// Consumes the first `n` bytes of the last chunk.
//
// Real-time safe. Only within the decode callback.
//
// # Errors
// `IPC_FRAMING` if `n` is more than the chunk held.
//
// # Safety
// `decoder` is the callback's.
ipc_result ipc_decoder_consume(ipc_decoder *decoder, size_t n);

// Copies the next `len` payload bytes into `buf`.
//
// Real-time safe. Only within the decode callback.
//
// # Errors
// `IPC_END` if fewer are left; as for `ipc_decoder_chunk`.
//
// # Safety
// `decoder` is the callback's; `buf` has `len` writable bytes.
ipc_result ipc_decoder_read(ipc_decoder *decoder, uint8_t *buf, size_t len);

// Reads the head of the next value. A length it announces has been
// checked against the payload bytes left.
//
// Real-time safe. Only within the decode callback.
//
// # Errors
// `IPC_END` at the end of the payload, `IPC_MALFORMED` for what is not a
// supported value head or a length longer than what is left.
//
// # Safety
// `decoder` is the callback's; `token_out` is writable.
ipc_result ipc_decode_token(ipc_decoder *decoder, ipc_token *token_out);

// Skips one whole value, nested ones included (at most `max_depth` deep).
//
// Real-time safe. Only within the decode callback.
//
// # Errors
// As for `ipc_decode_token`.
//
// # Safety
// `decoder` is the callback's.
ipc_result ipc_decode_skip(ipc_decoder *decoder, uint32_t max_depth);

// Creates a zero-filled region of `len` bytes (1 byte to 1 GiB) in the
// system's shared memory, private to this user. Pass its connection string
// (`ipc_region_connection_string`) to the peer process, which opens it with
// `ipc_region_open` or `ipc_region_open_read_only`.
//
// Thread-safe. Not real-time safe (maps and locks memory).
//
// # Errors
// `IPC_INVALID_ARGUMENT` for a length out of range, `IPC_OS`.
//
// # Safety
// `region_out` is writable.
ipc_result ipc_region_create(size_t len, ipc_region **region_out);

// Opens the region named by `connection` for reading and writing (made by
// `ipc_region_create` in another process). One process may do so: the
// region is claimed.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` for a malformed string, `IPC_CORRUPTED` for a bad
// header, `IPC_ALREADY_CLAIMED`, `IPC_OS` if it does not exist (any more)
// or is not private.
//
// # Safety
// `connection` is NUL-terminated; `region_out` is writable.
ipc_result ipc_region_open(const char *connection, ipc_region **region_out);

// Opens the region named by `connection` for reading only: the mapping is
// read-only (a write through `ipc_region_data`'s pointer faults) and claims
// nothing.
//
// Thread-safe. Not real-time safe.
//
// # Errors
// As for `ipc_region_open`, without `IPC_ALREADY_CLAIMED`.
//
// # Safety
// `connection` is NUL-terminated; `region_out` is writable.
ipc_result ipc_region_open_read_only(const char *connection, ipc_region **region_out);

// Frees a region handle (NULL: nothing) and unmaps it; a creator's region
// can no longer be opened afterwards.
//
// Thread-safe. Not real-time safe (unmaps memory).
//
// # Safety
// `region` came from an `ipc_region_create`/`_open*` call and is not used
// afterwards (nor the memory `ipc_region_data` gave).
void ipc_region_free(ipc_region *region);

// The region's memory: its first byte (aligned to 128 bytes) and its
// length. The bytes are the peer's too: it may change them at any time, so
// treat what is read there as untrusted. Only read through the pointer of
// a region opened read-only.
//
// Thread-safe. Real-time safe.
//
// # Safety
// `region` is valid; `data_out` and `len_out` are writable.
ipc_result ipc_region_data(const ipc_region *region, uint8_t **data_out, size_t *len_out);

// Whether the region was opened read-only.
//
// Thread-safe. Real-time safe.
//
// # Safety
// `region` is valid; `read_only_out` is writable.
ipc_result ipc_region_is_read_only(const ipc_region *region, bool *read_only_out);

// Copies the region's connection string (ASCII, safe on a command line and
// in an environment variable) into `buf`.
//
// Thread-safe. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if it has none.
//
// # Safety
// `region` is valid; `buf` points to `capacity` writable bytes, into which
// the string and its NUL are copied (`IPC_BUFFER_TOO_SMALL` otherwise);
// `len_out` is writable and gets the string's length without the NUL (also
// when the buffer is too small: the length needed).
ipc_result ipc_region_connection_string(const ipc_region *region,
                                        char *buf,
                                        size_t capacity,
                                        size_t *len_out);

// Makes a region this process created impossible to open from now on (once
// the peer has opened it); the mappings stay valid. Idempotent.
//
// Thread-safe. Not real-time safe.
//
// # Safety
// `region` is valid.
ipc_result ipc_region_withdraw(const ipc_region *region);

// Frees the caller's end (NULL: nothing): the plugin sees the real-time
// link close.
//
// Real-time safe (no allocation; it unmaps memory).
//
// # Safety
// `caller` came from `ipc_host_take_rt` and is not used afterwards.
void ipc_rt_caller_free(ipc_rt_caller *caller);

// One real-time call: sends a request of ID `id` whose payload `encode`
// writes, and blocks until the reply of ID `reply_id`, which `decode`
// reads in place; at most `timeout_ns` in all, the send included. One
// wake-up each way; the clock is read only if the call has to wait. A
// reply that comes too late for its call is discarded by a later one.
//
// Not thread-safe on one caller (the audio thread owns it). Real-time
// safe: no allocation and no lock, if `encode` and `decode` are.
//
// # Errors
// `IPC_TIMEOUT` (the link stays usable), `IPC_PEER_DIED`, `IPC_CLOSED`,
// `IPC_REMOTE` (the plugin could not serve it), `IPC_UNEXPECTED_ID`, what
// the callbacks returned.
//
// # Safety
// `caller` is valid; `encode` and `decode` are valid callbacks.
ipc_result ipc_rt_caller_call(ipc_rt_caller *caller,
                              uint32_t id,
                              ipc_encode_fn encode,
                              void *encode_user,
                              uint32_t reply_id,
                              ipc_decode_fn decode,
                              void *decode_user,
                              uint64_t timeout_ns);

// Creates shared audio buffers of these counts (planar `float`s: inputs,
// then outputs, `frames` each), hands them to the plugin over the
// real-time link, and keeps them (`ipc_rt_caller_audio`). Call again when
// the counts change; the old buffers are released.
//
// Not thread-safe on one caller. Not real-time safe (maps memory).
//
// # Errors
// `IPC_INVALID_ARGUMENT` for counts out of range, `IPC_REMOTE` if the
// plugin could not map them, or as for `ipc_rt_caller_call`.
//
// # Safety
// `caller` is valid.
ipc_result ipc_rt_caller_attach_audio(ipc_rt_caller *caller,
                                      size_t inputs,
                                      size_t outputs,
                                      size_t frames,
                                      uint64_t timeout_ns);

// The attached audio buffers, to fill the inputs before a call and read
// the outputs after it (valid until the next attach or the caller's free).
//
// Not thread-safe on one caller. Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if none are attached.
//
// # Safety
// `caller` is valid; `audio_out` is writable.
ipc_result ipc_rt_caller_audio(ipc_rt_caller *caller, ipc_audio **audio_out);

// Spins for up to `spin_ns` before sleeping while waiting for a reply (0,
// the default, sleeps at once): removes the wake-up latency when the
// plugin answers quickly. Bounded.
//
// Not thread-safe on one caller. Real-time safe.
//
// # Safety
// `caller` is valid.
ipc_result ipc_rt_caller_set_spin(ipc_rt_caller *caller, uint64_t spin_ns);

// Frees the server's end (NULL: nothing).
//
// Real-time safe (no allocation; it unmaps memory).
//
// # Safety
// `server` came from `ipc_plugin_take_rt` and is not used afterwards.
void ipc_rt_server_free(ipc_rt_server *server);

// Serves one request, waiting at most `timeout_ns` for it (audio
// attachments from the host are handled here too). A handler that returns
// an error (or does not answer) has the host's call answered with it.
//
// Not thread-safe on one server. Real-time safe if `handler` is.
//
// # Errors
// `IPC_TIMEOUT` if no request came, `IPC_CLOSED` once the host closed the
// link or asked to quit, `IPC_PEER_DIED`; for one request that could not
// be served (the link stays usable): what `handler` returned.
//
// # Safety
// `server` is valid; `handler` is a valid callback.
ipc_result ipc_rt_server_serve_one(ipc_rt_server *server,
                                   uint64_t timeout_ns,
                                   ipc_rt_handler_fn handler,
                                   void *user);

// Serves requests until the host asks to quit or closes the link
// (`stop_out->quit`), or goes away (`stop_out->reason`). A request that
// cannot be served is answered with its error; serving goes on.
//
// Not thread-safe on one server. Real-time safe if `handler` is.
//
// # Safety
// `server` is valid; `handler` is a valid callback; `stop_out` is
// writable.
ipc_result ipc_rt_server_serve(ipc_rt_server *server,
                               ipc_rt_handler_fn handler,
                               void *user,
                               ipc_stop *stop_out);

// Spins for up to `spin_ns` before sleeping while waiting for a request.
//
// Not thread-safe on one server. Real-time safe.
//
// # Safety
// `server` is valid.
ipc_result ipc_rt_server_set_spin(ipc_rt_server *server, uint64_t spin_ns);

// Answers the request being served with a reply of ID `id` (once) whose
// payload `encode` writes.
//
// Real-time safe if `encode` is. Only within the serving handler.
//
// # Errors
// `IPC_INVALID_ARGUMENT` if it was answered already, `IPC_CLOSED`,
// `IPC_PEER_DIED`, what `encode` returned.
//
// # Safety
// `responder` is the handler's; `encode` is a valid callback.
ipc_result ipc_responder_reply(ipc_responder *responder,
                               uint32_t id,
                               ipc_encode_fn encode,
                               void *user);

// The shape of the audio buffers: channel counts and frames per channel.
//
// Real-time safe.
//
// # Safety
// `audio` is valid; the out-parameters are writable.
ipc_result ipc_audio_shape(const ipc_audio *audio,
                           size_t *inputs_out,
                           size_t *outputs_out,
                           size_t *frames_out);

// Input channel `channel`: `frames` samples (the host fills them before a
// call; the plugin reads them while serving it).
//
// Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` for a channel out of range.
//
// # Safety
// `audio` is valid; `samples_out` is writable.
ipc_result ipc_audio_input(ipc_audio *audio, size_t channel, float **samples_out);

// Output channel `channel`: `frames` samples (the plugin writes them while
// serving a call; the host reads them after it). Any bits a plugin wrote
// are some `float`: check them if it matters.
//
// Real-time safe.
//
// # Errors
// `IPC_INVALID_ARGUMENT` for a channel out of range.
//
// # Safety
// `audio` is valid; `samples_out` is writable.
ipc_result ipc_audio_output(ipc_audio *audio, size_t channel, float **samples_out);

// Gives the calling thread real-time scheduling (`SCHED_FIFO` at
// `priority` on Linux and macOS, time-critical on Windows): for the
// plugin's serving thread and the host's audio thread.
//
// Thread-safe. Not real-time safe (a system call).
//
// # Errors
// `IPC_OS` if the system refuses (`ipc_last_error` says why); the thread
// keeps its priority.
ipc_result ipc_promote_current_thread(uint8_t priority);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* IPC_H */
