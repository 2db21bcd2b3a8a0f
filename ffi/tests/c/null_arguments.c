/*
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

/* 94 functions, 187 calls. Without a pointer parameter to check:
 * ipc_result_str, ipc_free_nothing, ipc_promote_current_thread. */

int main(void) {
    expect_null_argument("ipc_last_error(buf = NULL)", ipc_last_error(NULL, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_last_error(len_out = NULL)", ipc_last_error(DUMMY(uint8_t *), 0, NULL));
    expect_null_argument("ipc_segment_create(capacities = NULL)", ipc_segment_create(NULL, 0, DUMMY(ipc_segment **)));
    expect_null_argument("ipc_segment_create(segment_out = NULL)", ipc_segment_create(DUMMY(const size_t *), 0, NULL));
    expect_null_argument("ipc_segment_open(connection = NULL)", ipc_segment_open(NULL, DUMMY(ipc_segment **)));
    expect_null_argument("ipc_segment_open(segment_out = NULL)", ipc_segment_open(DUMMY(const char *), NULL));
    ipc_segment_free(NULL);
    freed("ipc_segment_free(NULL)");
    expect_null_argument("ipc_segment_connection_string(segment = NULL)", ipc_segment_connection_string(NULL, DUMMY(char *), 0, DUMMY(size_t *)));
    expect_null_argument("ipc_segment_connection_string(buf = NULL)", ipc_segment_connection_string(DUMMY(const ipc_segment *), NULL, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_segment_connection_string(len_out = NULL)", ipc_segment_connection_string(DUMMY(const ipc_segment *), DUMMY(char *), 0, NULL));
    expect_null_argument("ipc_segment_writer(segment = NULL)", ipc_segment_writer(NULL, 0, DUMMY(ipc_writer **)));
    expect_null_argument("ipc_segment_writer(writer_out = NULL)", ipc_segment_writer(DUMMY(const ipc_segment *), 0, NULL));
    expect_null_argument("ipc_segment_reader(segment = NULL)", ipc_segment_reader(NULL, 0, DUMMY(ipc_reader **)));
    expect_null_argument("ipc_segment_reader(reader_out = NULL)", ipc_segment_reader(DUMMY(const ipc_segment *), 0, NULL));
    expect_null_argument("ipc_segment_close(segment = NULL)", ipc_segment_close(NULL, 0));
    expect_null_argument("ipc_segment_watch_peer(segment = NULL)", ipc_segment_watch_peer(NULL, DUMMY(bool *)));
    expect_null_argument("ipc_segment_watch_peer(watching_out = NULL)", ipc_segment_watch_peer(DUMMY(const ipc_segment *), NULL));
    ipc_writer_free(NULL);
    freed("ipc_writer_free(NULL)");
    ipc_reader_free(NULL);
    freed("ipc_reader_free(NULL)");
    expect_null_argument("ipc_writer_write(writer = NULL)", ipc_writer_write(NULL, DUMMY(const uint8_t *), 0, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_writer_write(data = NULL)", ipc_writer_write(DUMMY(ipc_writer *), NULL, 0, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_writer_write(written_out = NULL)", ipc_writer_write(DUMMY(ipc_writer *), DUMMY(const uint8_t *), 0, 0, NULL));
    expect_null_argument("ipc_writer_commit(writer = NULL)", ipc_writer_commit(NULL));
    expect_null_argument("ipc_writer_reserve(writer = NULL)", ipc_writer_reserve(NULL, 0, 0, DUMMY(uint8_t **), DUMMY(size_t *), DUMMY(uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_writer_reserve(first_out = NULL)", ipc_writer_reserve(DUMMY(ipc_writer *), 0, 0, NULL, DUMMY(size_t *), DUMMY(uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_writer_reserve(first_len_out = NULL)", ipc_writer_reserve(DUMMY(ipc_writer *), 0, 0, DUMMY(uint8_t **), NULL, DUMMY(uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_writer_reserve(second_out = NULL)", ipc_writer_reserve(DUMMY(ipc_writer *), 0, 0, DUMMY(uint8_t **), DUMMY(size_t *), NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_writer_reserve(second_len_out = NULL)", ipc_writer_reserve(DUMMY(ipc_writer *), 0, 0, DUMMY(uint8_t **), DUMMY(size_t *), DUMMY(uint8_t **), NULL));
    expect_null_argument("ipc_writer_advance(writer = NULL)", ipc_writer_advance(NULL, 0));
    expect_null_argument("ipc_writer_close(writer = NULL)", ipc_writer_close(NULL));
    expect_null_argument("ipc_reader_close(reader = NULL)", ipc_reader_close(NULL));
    expect_null_argument("ipc_reader_read(reader = NULL)", ipc_reader_read(NULL, DUMMY(uint8_t *), 0, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_reader_read(buf = NULL)", ipc_reader_read(DUMMY(ipc_reader *), NULL, 0, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_reader_read(read_out = NULL)", ipc_reader_read(DUMMY(ipc_reader *), DUMMY(uint8_t *), 0, 0, NULL));
    expect_null_argument("ipc_reader_read_exact(reader = NULL)", ipc_reader_read_exact(NULL, DUMMY(uint8_t *), 0, 0));
    expect_null_argument("ipc_reader_read_exact(buf = NULL)", ipc_reader_read_exact(DUMMY(ipc_reader *), NULL, 0, 0));
    expect_null_argument("ipc_reader_peek(reader = NULL)", ipc_reader_peek(NULL, 0, 0, DUMMY(const uint8_t **), DUMMY(size_t *), DUMMY(const uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_reader_peek(first_out = NULL)", ipc_reader_peek(DUMMY(ipc_reader *), 0, 0, NULL, DUMMY(size_t *), DUMMY(const uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_reader_peek(first_len_out = NULL)", ipc_reader_peek(DUMMY(ipc_reader *), 0, 0, DUMMY(const uint8_t **), NULL, DUMMY(const uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_reader_peek(second_out = NULL)", ipc_reader_peek(DUMMY(ipc_reader *), 0, 0, DUMMY(const uint8_t **), DUMMY(size_t *), NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_reader_peek(second_len_out = NULL)", ipc_reader_peek(DUMMY(ipc_reader *), 0, 0, DUMMY(const uint8_t **), DUMMY(size_t *), DUMMY(const uint8_t **), NULL));
    expect_null_argument("ipc_reader_consume(reader = NULL)", ipc_reader_consume(NULL, 0));
    expect_null_argument("ipc_writer_set_spin(writer = NULL)", ipc_writer_set_spin(NULL, 0));
    expect_null_argument("ipc_reader_set_spin(reader = NULL)", ipc_reader_set_spin(NULL, 0));
    expect_null_argument("ipc_writer_stats(writer = NULL)", ipc_writer_stats(NULL, DUMMY(ipc_stats *)));
    expect_null_argument("ipc_writer_stats(stats_out = NULL)", ipc_writer_stats(DUMMY(const ipc_writer *), NULL));
    expect_null_argument("ipc_reader_stats(reader = NULL)", ipc_reader_stats(NULL, DUMMY(ipc_stats *)));
    expect_null_argument("ipc_reader_stats(stats_out = NULL)", ipc_reader_stats(DUMMY(const ipc_reader *), NULL));
    expect_null_argument("ipc_config_default(config_out = NULL)", ipc_config_default(NULL));
    expect_null_argument("ipc_host_spawn(program = NULL)", ipc_host_spawn(NULL, DUMMY(const char *const *), 0, DUMMY(const ipc_config *), DUMMY(ipc_setup_fn), NULL, DUMMY(ipc_host **)));
    expect_null_argument("ipc_host_spawn(args = NULL)", ipc_host_spawn(DUMMY(const char *), NULL, 0, DUMMY(const ipc_config *), DUMMY(ipc_setup_fn), NULL, DUMMY(ipc_host **)));
    expect_null_argument("ipc_host_spawn(config = NULL)", ipc_host_spawn(DUMMY(const char *), DUMMY(const char *const *), 0, NULL, DUMMY(ipc_setup_fn), NULL, DUMMY(ipc_host **)));
    expect_null_argument("ipc_host_spawn(setup = NULL)", ipc_host_spawn(DUMMY(const char *), DUMMY(const char *const *), 0, DUMMY(const ipc_config *), NULL, NULL, DUMMY(ipc_host **)));
    expect_null_argument("ipc_host_spawn(host_out = NULL)", ipc_host_spawn(DUMMY(const char *), DUMMY(const char *const *), 0, DUMMY(const ipc_config *), DUMMY(ipc_setup_fn), NULL, NULL));
    ipc_host_free(NULL);
    freed("ipc_host_free(NULL)");
    expect_null_argument("ipc_host_shutdown(host = NULL)", ipc_host_shutdown(NULL, 0, DUMMY(ipc_ended *)));
    expect_null_argument("ipc_host_shutdown(ended_out = NULL)", ipc_host_shutdown(DUMMY(ipc_host *), 0, NULL));
    expect_null_argument("ipc_host_main_link(host = NULL)", ipc_host_main_link(NULL, DUMMY(const ipc_main_link **)));
    expect_null_argument("ipc_host_main_link(link_out = NULL)", ipc_host_main_link(DUMMY(const ipc_host *), NULL));
    expect_null_argument("ipc_host_take_rt(host = NULL)", ipc_host_take_rt(NULL, DUMMY(ipc_rt_caller **)));
    expect_null_argument("ipc_host_take_rt(rt_out = NULL)", ipc_host_take_rt(DUMMY(ipc_host *), NULL));
    expect_null_argument("ipc_host_plugin_pid(host = NULL)", ipc_host_plugin_pid(NULL, DUMMY(uint32_t *)));
    expect_null_argument("ipc_host_plugin_pid(pid_out = NULL)", ipc_host_plugin_pid(DUMMY(const ipc_host *), NULL));
    expect_null_argument("ipc_host_try_wait(host = NULL)", ipc_host_try_wait(NULL, DUMMY(bool *), DUMMY(int32_t *)));
    expect_null_argument("ipc_host_try_wait(exited_out = NULL)", ipc_host_try_wait(DUMMY(ipc_host *), NULL, DUMMY(int32_t *)));
    expect_null_argument("ipc_host_try_wait(code_out = NULL)", ipc_host_try_wait(DUMMY(ipc_host *), DUMMY(bool *), NULL));
    expect_null_argument("ipc_host_kill(host = NULL)", ipc_host_kill(NULL));
    expect_null_argument("ipc_plugin_connect(connection = NULL)", ipc_plugin_connect(NULL, DUMMY(const ipc_config *), DUMMY(ipc_setup_fn), NULL, DUMMY(ipc_plugin **)));
    expect_null_argument("ipc_plugin_connect(config = NULL)", ipc_plugin_connect(DUMMY(const char *), NULL, DUMMY(ipc_setup_fn), NULL, DUMMY(ipc_plugin **)));
    expect_null_argument("ipc_plugin_connect(setup = NULL)", ipc_plugin_connect(DUMMY(const char *), DUMMY(const ipc_config *), NULL, NULL, DUMMY(ipc_plugin **)));
    expect_null_argument("ipc_plugin_connect(plugin_out = NULL)", ipc_plugin_connect(DUMMY(const char *), DUMMY(const ipc_config *), DUMMY(ipc_setup_fn), NULL, NULL));
    expect_null_argument("ipc_plugin_connect_from_env(config = NULL)", ipc_plugin_connect_from_env(NULL, DUMMY(ipc_setup_fn), NULL, DUMMY(ipc_plugin **)));
    expect_null_argument("ipc_plugin_connect_from_env(setup = NULL)", ipc_plugin_connect_from_env(DUMMY(const ipc_config *), NULL, NULL, DUMMY(ipc_plugin **)));
    expect_null_argument("ipc_plugin_connect_from_env(plugin_out = NULL)", ipc_plugin_connect_from_env(DUMMY(const ipc_config *), DUMMY(ipc_setup_fn), NULL, NULL));
    ipc_plugin_free(NULL);
    freed("ipc_plugin_free(NULL)");
    expect_null_argument("ipc_plugin_main_link(plugin = NULL)", ipc_plugin_main_link(NULL, DUMMY(const ipc_main_link **)));
    expect_null_argument("ipc_plugin_main_link(link_out = NULL)", ipc_plugin_main_link(DUMMY(const ipc_plugin *), NULL));
    expect_null_argument("ipc_plugin_take_rt(plugin = NULL)", ipc_plugin_take_rt(NULL, DUMMY(ipc_rt_server **)));
    expect_null_argument("ipc_plugin_take_rt(rt_out = NULL)", ipc_plugin_take_rt(DUMMY(ipc_plugin *), NULL));
    expect_null_argument("ipc_plugin_wait_for_stop(plugin = NULL)", ipc_plugin_wait_for_stop(NULL, 0, DUMMY(ipc_stop *)));
    expect_null_argument("ipc_plugin_wait_for_stop(stop_out = NULL)", ipc_plugin_wait_for_stop(DUMMY(const ipc_plugin *), 0, NULL));
    expect_null_argument("ipc_main_link_on(link = NULL)", ipc_main_link_on(NULL, 0, DUMMY(ipc_message_decode_fn), DUMMY(ipc_message_handle_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on(decode = NULL)", ipc_main_link_on(DUMMY(const ipc_main_link *), 0, NULL, DUMMY(ipc_message_handle_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on(handle = NULL)", ipc_main_link_on(DUMMY(const ipc_main_link *), 0, DUMMY(ipc_message_decode_fn), NULL, NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on(free_user = NULL)", ipc_main_link_on(DUMMY(const ipc_main_link *), 0, DUMMY(ipc_message_decode_fn), DUMMY(ipc_message_handle_fn), NULL, NULL));
    expect_null_argument("ipc_main_link_remove_handler(link = NULL)", ipc_main_link_remove_handler(NULL, 0, DUMMY(bool *)));
    expect_null_argument("ipc_main_link_remove_handler(removed_out = NULL)", ipc_main_link_remove_handler(DUMMY(const ipc_main_link *), 0, NULL));
    expect_null_argument("ipc_main_link_on_unknown(link = NULL)", ipc_main_link_on_unknown(NULL, DUMMY(ipc_unknown_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on_unknown(unknown = NULL)", ipc_main_link_on_unknown(DUMMY(const ipc_main_link *), NULL, NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on_unknown(free_user = NULL)", ipc_main_link_on_unknown(DUMMY(const ipc_main_link *), DUMMY(ipc_unknown_fn), NULL, NULL));
    expect_null_argument("ipc_main_link_on_disconnect(link = NULL)", ipc_main_link_on_disconnect(NULL, DUMMY(ipc_disconnect_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on_disconnect(disconnect = NULL)", ipc_main_link_on_disconnect(DUMMY(const ipc_main_link *), NULL, NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_on_disconnect(free_user = NULL)", ipc_main_link_on_disconnect(DUMMY(const ipc_main_link *), DUMMY(ipc_disconnect_fn), NULL, NULL));
    expect_null_argument("ipc_main_link_is_connected(link = NULL)", ipc_main_link_is_connected(NULL, DUMMY(bool *)));
    expect_null_argument("ipc_main_link_is_connected(connected_out = NULL)", ipc_main_link_is_connected(DUMMY(const ipc_main_link *), NULL));
    expect_null_argument("ipc_main_link_wait_disconnected(link = NULL)", ipc_main_link_wait_disconnected(NULL, 0, DUMMY(uint32_t *)));
    expect_null_argument("ipc_main_link_wait_disconnected(reason_out = NULL)", ipc_main_link_wait_disconnected(DUMMY(const ipc_main_link *), 0, NULL));
    expect_null_argument("ipc_main_link_close(link = NULL)", ipc_main_link_close(NULL));
    expect_null_argument("ipc_main_link_send(link = NULL)", ipc_main_link_send(NULL, 0, DUMMY(ipc_encode_fn), NULL));
    expect_null_argument("ipc_main_link_send(encode = NULL)", ipc_main_link_send(DUMMY(const ipc_main_link *), 0, NULL, NULL));
    expect_null_argument("ipc_main_link_send_timeout(link = NULL)", ipc_main_link_send_timeout(NULL, 0, 0, DUMMY(ipc_encode_fn), NULL));
    expect_null_argument("ipc_main_link_send_timeout(encode = NULL)", ipc_main_link_send_timeout(DUMMY(const ipc_main_link *), 0, 0, NULL, NULL));
    expect_null_argument("ipc_main_link_request(link = NULL)", ipc_main_link_request(NULL, 0, DUMMY(ipc_encode_fn), NULL, DUMMY(ipc_message_decode_fn), DUMMY(ipc_reply_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_request(encode = NULL)", ipc_main_link_request(DUMMY(const ipc_main_link *), 0, NULL, NULL, DUMMY(ipc_message_decode_fn), DUMMY(ipc_reply_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_request(decode = NULL)", ipc_main_link_request(DUMMY(const ipc_main_link *), 0, DUMMY(ipc_encode_fn), NULL, NULL, DUMMY(ipc_reply_fn), NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_request(on_reply = NULL)", ipc_main_link_request(DUMMY(const ipc_main_link *), 0, DUMMY(ipc_encode_fn), NULL, DUMMY(ipc_message_decode_fn), NULL, NULL, DUMMY(ipc_free_fn)));
    expect_null_argument("ipc_main_link_request(free_user = NULL)", ipc_main_link_request(DUMMY(const ipc_main_link *), 0, DUMMY(ipc_encode_fn), NULL, DUMMY(ipc_message_decode_fn), DUMMY(ipc_reply_fn), NULL, NULL));
    expect_null_argument("ipc_main_link_request_timeout(link = NULL)", ipc_main_link_request_timeout(NULL, 0, DUMMY(ipc_encode_fn), NULL, DUMMY(ipc_decode_fn), NULL, 0));
    expect_null_argument("ipc_main_link_request_timeout(encode = NULL)", ipc_main_link_request_timeout(DUMMY(const ipc_main_link *), 0, NULL, NULL, DUMMY(ipc_decode_fn), NULL, 0));
    expect_null_argument("ipc_main_link_request_timeout(decode = NULL)", ipc_main_link_request_timeout(DUMMY(const ipc_main_link *), 0, DUMMY(ipc_encode_fn), NULL, NULL, NULL, 0));
    expect_null_argument("ipc_incoming_header(incoming = NULL)", ipc_incoming_header(NULL, DUMMY(ipc_header *)));
    expect_null_argument("ipc_incoming_header(header_out = NULL)", ipc_incoming_header(DUMMY(const ipc_incoming *), NULL));
    expect_null_argument("ipc_incoming_link(incoming = NULL)", ipc_incoming_link(NULL, DUMMY(const ipc_main_link **)));
    expect_null_argument("ipc_incoming_link(link_out = NULL)", ipc_incoming_link(DUMMY(const ipc_incoming *), NULL));
    expect_null_argument("ipc_incoming_reply(incoming = NULL)", ipc_incoming_reply(NULL, 0, DUMMY(ipc_encode_fn), NULL));
    expect_null_argument("ipc_incoming_reply(encode = NULL)", ipc_incoming_reply(DUMMY(const ipc_incoming *), 0, NULL, NULL));
    expect_null_argument("ipc_incoming_reply_error(incoming = NULL)", ipc_incoming_reply_error(NULL, DUMMY(const char *)));
    expect_null_argument("ipc_incoming_reply_error(message = NULL)", ipc_incoming_reply_error(DUMMY(const ipc_incoming *), NULL));
    expect_null_argument("ipc_limits_default(limits_out = NULL)", ipc_limits_default(NULL));
    expect_null_argument("ipc_message_send(writer = NULL)", ipc_message_send(NULL, 0, 0, 0, 0, DUMMY(ipc_encode_fn), NULL));
    expect_null_argument("ipc_message_send(encode = NULL)", ipc_message_send(DUMMY(ipc_writer *), 0, 0, 0, 0, NULL, NULL));
    expect_null_argument("ipc_message_recv(reader = NULL)", ipc_message_recv(NULL, DUMMY(const ipc_limits *), 0, DUMMY(ipc_decode_fn), NULL));
    expect_null_argument("ipc_message_recv(limits = NULL)", ipc_message_recv(DUMMY(ipc_reader *), NULL, 0, DUMMY(ipc_decode_fn), NULL));
    expect_null_argument("ipc_message_recv(decode = NULL)", ipc_message_recv(DUMMY(ipc_reader *), DUMMY(const ipc_limits *), 0, NULL, NULL));
    expect_null_argument("ipc_encoder_span(encoder = NULL)", ipc_encoder_span(NULL, DUMMY(uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_encoder_span(span_out = NULL)", ipc_encoder_span(DUMMY(ipc_encoder *), NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_encoder_span(len_out = NULL)", ipc_encoder_span(DUMMY(ipc_encoder *), DUMMY(uint8_t **), NULL));
    expect_null_argument("ipc_encoder_advance(encoder = NULL)", ipc_encoder_advance(NULL, 0));
    expect_null_argument("ipc_encoder_write(encoder = NULL)", ipc_encoder_write(NULL, DUMMY(const uint8_t *), 0));
    expect_null_argument("ipc_encoder_write(bytes = NULL)", ipc_encoder_write(DUMMY(ipc_encoder *), NULL, 0));
    expect_null_argument("ipc_encode_token(encoder = NULL)", ipc_encode_token(NULL, DUMMY(const ipc_token *)));
    expect_null_argument("ipc_encode_token(token = NULL)", ipc_encode_token(DUMMY(ipc_encoder *), NULL));
    expect_null_argument("ipc_encode_str(encoder = NULL)", ipc_encode_str(NULL, DUMMY(const uint8_t *), 0));
    expect_null_argument("ipc_encode_str(s = NULL)", ipc_encode_str(DUMMY(ipc_encoder *), NULL, 0));
    expect_null_argument("ipc_encode_bin(encoder = NULL)", ipc_encode_bin(NULL, DUMMY(const uint8_t *), 0));
    expect_null_argument("ipc_encode_bin(data = NULL)", ipc_encode_bin(DUMMY(ipc_encoder *), NULL, 0));
    expect_null_argument("ipc_decoder_remaining(decoder = NULL)", ipc_decoder_remaining(NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_decoder_remaining(remaining_out = NULL)", ipc_decoder_remaining(DUMMY(const ipc_decoder *), NULL));
    expect_null_argument("ipc_decoder_chunk(decoder = NULL)", ipc_decoder_chunk(NULL, DUMMY(const uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_decoder_chunk(chunk_out = NULL)", ipc_decoder_chunk(DUMMY(ipc_decoder *), NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_decoder_chunk(len_out = NULL)", ipc_decoder_chunk(DUMMY(ipc_decoder *), DUMMY(const uint8_t **), NULL));
    expect_null_argument("ipc_decoder_consume(decoder = NULL)", ipc_decoder_consume(NULL, 0));
    expect_null_argument("ipc_decoder_read(decoder = NULL)", ipc_decoder_read(NULL, DUMMY(uint8_t *), 0));
    expect_null_argument("ipc_decoder_read(buf = NULL)", ipc_decoder_read(DUMMY(ipc_decoder *), NULL, 0));
    expect_null_argument("ipc_decode_token(decoder = NULL)", ipc_decode_token(NULL, DUMMY(ipc_token *)));
    expect_null_argument("ipc_decode_token(token_out = NULL)", ipc_decode_token(DUMMY(ipc_decoder *), NULL));
    expect_null_argument("ipc_decode_skip(decoder = NULL)", ipc_decode_skip(NULL, 0));
    expect_null_argument("ipc_region_create(region_out = NULL)", ipc_region_create(0, NULL));
    expect_null_argument("ipc_region_open(connection = NULL)", ipc_region_open(NULL, DUMMY(ipc_region **)));
    expect_null_argument("ipc_region_open(region_out = NULL)", ipc_region_open(DUMMY(const char *), NULL));
    expect_null_argument("ipc_region_open_read_only(connection = NULL)", ipc_region_open_read_only(NULL, DUMMY(ipc_region **)));
    expect_null_argument("ipc_region_open_read_only(region_out = NULL)", ipc_region_open_read_only(DUMMY(const char *), NULL));
    ipc_region_free(NULL);
    freed("ipc_region_free(NULL)");
    expect_null_argument("ipc_region_data(region = NULL)", ipc_region_data(NULL, DUMMY(uint8_t **), DUMMY(size_t *)));
    expect_null_argument("ipc_region_data(data_out = NULL)", ipc_region_data(DUMMY(const ipc_region *), NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_region_data(len_out = NULL)", ipc_region_data(DUMMY(const ipc_region *), DUMMY(uint8_t **), NULL));
    expect_null_argument("ipc_region_is_read_only(region = NULL)", ipc_region_is_read_only(NULL, DUMMY(bool *)));
    expect_null_argument("ipc_region_is_read_only(read_only_out = NULL)", ipc_region_is_read_only(DUMMY(const ipc_region *), NULL));
    expect_null_argument("ipc_region_connection_string(region = NULL)", ipc_region_connection_string(NULL, DUMMY(char *), 0, DUMMY(size_t *)));
    expect_null_argument("ipc_region_connection_string(buf = NULL)", ipc_region_connection_string(DUMMY(const ipc_region *), NULL, 0, DUMMY(size_t *)));
    expect_null_argument("ipc_region_connection_string(len_out = NULL)", ipc_region_connection_string(DUMMY(const ipc_region *), DUMMY(char *), 0, NULL));
    expect_null_argument("ipc_region_withdraw(region = NULL)", ipc_region_withdraw(NULL));
    ipc_rt_caller_free(NULL);
    freed("ipc_rt_caller_free(NULL)");
    expect_null_argument("ipc_rt_caller_call(caller = NULL)", ipc_rt_caller_call(NULL, 0, DUMMY(ipc_encode_fn), NULL, 0, DUMMY(ipc_decode_fn), NULL, 0));
    expect_null_argument("ipc_rt_caller_call(encode = NULL)", ipc_rt_caller_call(DUMMY(ipc_rt_caller *), 0, NULL, NULL, 0, DUMMY(ipc_decode_fn), NULL, 0));
    expect_null_argument("ipc_rt_caller_call(decode = NULL)", ipc_rt_caller_call(DUMMY(ipc_rt_caller *), 0, DUMMY(ipc_encode_fn), NULL, 0, NULL, NULL, 0));
    expect_null_argument("ipc_rt_caller_attach_audio(caller = NULL)", ipc_rt_caller_attach_audio(NULL, 0, 0, 0, 0));
    expect_null_argument("ipc_rt_caller_audio(caller = NULL)", ipc_rt_caller_audio(NULL, DUMMY(ipc_audio **)));
    expect_null_argument("ipc_rt_caller_audio(audio_out = NULL)", ipc_rt_caller_audio(DUMMY(ipc_rt_caller *), NULL));
    expect_null_argument("ipc_rt_caller_set_spin(caller = NULL)", ipc_rt_caller_set_spin(NULL, 0));
    ipc_rt_server_free(NULL);
    freed("ipc_rt_server_free(NULL)");
    expect_null_argument("ipc_rt_server_serve_one(server = NULL)", ipc_rt_server_serve_one(NULL, 0, DUMMY(ipc_rt_handler_fn), NULL));
    expect_null_argument("ipc_rt_server_serve_one(handler = NULL)", ipc_rt_server_serve_one(DUMMY(ipc_rt_server *), 0, NULL, NULL));
    expect_null_argument("ipc_rt_server_serve(server = NULL)", ipc_rt_server_serve(NULL, DUMMY(ipc_rt_handler_fn), NULL, DUMMY(ipc_stop *)));
    expect_null_argument("ipc_rt_server_serve(handler = NULL)", ipc_rt_server_serve(DUMMY(ipc_rt_server *), NULL, NULL, DUMMY(ipc_stop *)));
    expect_null_argument("ipc_rt_server_serve(stop_out = NULL)", ipc_rt_server_serve(DUMMY(ipc_rt_server *), DUMMY(ipc_rt_handler_fn), NULL, NULL));
    expect_null_argument("ipc_rt_server_set_spin(server = NULL)", ipc_rt_server_set_spin(NULL, 0));
    expect_null_argument("ipc_responder_reply(responder = NULL)", ipc_responder_reply(NULL, 0, DUMMY(ipc_encode_fn), NULL));
    expect_null_argument("ipc_responder_reply(encode = NULL)", ipc_responder_reply(DUMMY(ipc_responder *), 0, NULL, NULL));
    expect_null_argument("ipc_audio_shape(audio = NULL)", ipc_audio_shape(NULL, DUMMY(size_t *), DUMMY(size_t *), DUMMY(size_t *)));
    expect_null_argument("ipc_audio_shape(inputs_out = NULL)", ipc_audio_shape(DUMMY(const ipc_audio *), NULL, DUMMY(size_t *), DUMMY(size_t *)));
    expect_null_argument("ipc_audio_shape(outputs_out = NULL)", ipc_audio_shape(DUMMY(const ipc_audio *), DUMMY(size_t *), NULL, DUMMY(size_t *)));
    expect_null_argument("ipc_audio_shape(frames_out = NULL)", ipc_audio_shape(DUMMY(const ipc_audio *), DUMMY(size_t *), DUMMY(size_t *), NULL));
    expect_null_argument("ipc_audio_input(audio = NULL)", ipc_audio_input(NULL, 0, DUMMY(float **)));
    expect_null_argument("ipc_audio_input(samples_out = NULL)", ipc_audio_input(DUMMY(ipc_audio *), 0, NULL));
    expect_null_argument("ipc_audio_output(audio = NULL)", ipc_audio_output(NULL, 0, DUMMY(float **)));
    expect_null_argument("ipc_audio_output(samples_out = NULL)", ipc_audio_output(DUMMY(ipc_audio *), 0, NULL));

    /* The line `cargo xtask ci` counts. */
    printf("test result: %s. %u passed; %u failed\n", failed ? "FAILED" : "ok", passed, failed);
    return failed ? 1 : 0;
}
