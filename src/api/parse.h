/*
 * JSON request bodies -> plain config structs (vmm/resources.h, vmm/controller.h), with Firecracker's rules:
 * unknown fields are rejected (serde's deny_unknown_fields), so are duplicate fields, wrong types and
 * missing required fields; optional fields may be null. Semantic checks (files exist, ids unique, ranges
 * that depend on the machine) belong to resources.c. Errors are one line in `err`, e.g.
 * "missing field `kernel_image_path`"; nothing here allocates beyond the cJSON tree.
 */
#ifndef WISP_API_PARSE_H
#define WISP_API_PARSE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/controller.h"
#include "vmm/resources.h"

/* Parse a body: valid JSON, no "\u0000" in strings (they would truncate C strings), nothing after it. */
cJSON *api_json__parse(const char *text, size_t len, char *err, size_t n);

int api_parse__boot_source(const cJSON *j, struct boot_source_cfg *out, char *err, size_t n);
/* full: PUT (vcpu_count and mem_size_mib required); else PATCH (any subset). */
int api_parse__machine_config(const cJSON *j, bool full, struct machine_cfg_update *out, char *err, size_t n);
int api_parse__drive(const cJSON *j, struct drive_cfg *out, char *err, size_t n);
int api_parse__drive_update(const cJSON *j, struct drive_update *out, char *err, size_t n);
int api_parse__net(const cJSON *j, struct net_cfg *out, char *err, size_t n);
int api_parse__net_update(const cJSON *j, struct net_update *out, char *err, size_t n);
int api_parse__entropy(const cJSON *j, struct entropy_cfg *out, char *err, size_t n);
int api_parse__serial(const cJSON *j, struct serial_cfg *out, char *err, size_t n);
int api_parse__logger(const cJSON *j, struct logger_cfg *out, char *err, size_t n);
int api_parse__metrics(const cJSON *j, struct metrics_cfg *out, char *err, size_t n);
/* PUT /mmds/config; ipv4_address defaults to 169.254.169.254, version to V1. */
int api_parse__mmds_config(const cJSON *j, struct mmds_cfg *out, char *err, size_t n);
int api_parse__vsock(const cJSON *j, struct vsock_cfg *out, char *err, size_t n);
int api_parse__balloon(const cJSON *j, struct balloon_cfg *out, char *err, size_t n);
/* PATCH /balloon {"amount_mib"}, PATCH /balloon/statistics {"stats_polling_interval_s"}. */
int api_parse__balloon_update(const cJSON *j, uint32_t *amount_mib, char *err, size_t n);
int api_parse__balloon_stats_update(const cJSON *j, uint32_t *interval_s, char *err, size_t n);
/* PATCH /balloon/hinting/start: j may be NULL (no body); acknowledge_on_stop defaults to true. */
int api_parse__balloon_hint_start(const cJSON *j, bool *acknowledge_on_stop, char *err, size_t n);

enum api_action { ACTION_INSTANCE_START, ACTION_FLUSH_METRICS, ACTION_SEND_CTRL_ALT_DEL };
int api_parse__action(const cJSON *j, enum api_action *out, char *err, size_t n);
/* {"state": "Paused" | "Resumed"} */
int api_parse__vm_state(const cJSON *j, bool *pause, char *err, size_t n);
int api_parse__snapshot_create(const cJSON *j, struct snapshot_create_cfg *out, char *err, size_t n);
int api_parse__snapshot_load(const cJSON *j, struct snapshot_load_cfg *out, char *err, size_t n);

/*
 * A whole configuration document (--config-file: the same JSON as Firecracker's, keys "boot-source",
 * "machine-config", "drives", "network-interfaces", "logger", "metrics", "entropy", ...), applied to the
 * controller section by section. On error returns -1 with "section: reason" in err.
 */
int api_config__apply(struct controller *c, const char *text, size_t len, char *err, size_t n);

#endif
