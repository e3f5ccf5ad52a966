/*
 * metrics.h - every metric family (tbl/metrics.h) read once per scrape and written as
 * Prometheus text (/metrics) or JSON (/stats).
 *
 * A scrape is a snapshot: the workers' counters summed, and each tier's, the in-flight
 * table's, the origin breakers', the allocator's and the popularity tracker's figures read
 * once; both outputs are written from it by walking the one table.
 */
#ifndef BLOCKEDGE_METRICS_H
#define BLOCKEDGE_METRICS_H

#include <stddef.h>

#include "blockedge/adminstats.h"
#include "blockedge/defs.h"
#include "blockedge/stats.h"

struct evbuffer;
typedef struct be_services_s be_services_t;
typedef struct be_metrics_s be_metrics_t;

enum be_metric {
#define X(id, name, type, labels, source, field, key, help) BE_METRIC_##id,
#include "blockedge/tbl/metrics.h"
#undef X
    BE_METRIC_N
};

/* Reads every source of svc. Drains the popularity rings first (now is the tracker's clock).
 * NULL when out of memory. Thread: main (the popularity tracker's consumer), while the
 * workers run. */
be_metrics_t *be_metrics_read(be_services_t *svc, be_msec_t now);

/* A snapshot of st alone (tests, tools): the families of the other sources are absent.
 * NULL when out of memory. Thread: any. */
be_metrics_t *be_metrics_of_stats(const be_stats_t *st);

/* Adds the admin listener's counters to a snapshot (the admin families read 0 without them).
 * Thread: the one that read m. */
void be_metrics_set_admin(be_metrics_t *m, const be_admin_stats_t *st);

/* Frees a snapshot; *mp = NULL. */
void be_metrics_free(be_metrics_t **mp);

/* Appends the Prometheus text 0.0.4 of every present family, in table order: HELP and TYPE,
 * then its samples (none for a labelled family with nothing counted yet). */
void be_metrics_prometheus(const be_metrics_t *m, struct evbuffer *out);

/* Appends the /stats document: version, workers, uptime, each family under its /stats key,
 * every present family under "metrics" by name (labelled ones as objects keyed by label value,
 * histograms as {"count","sum"}), and with popularity on the top blocks (at most top) and the
 * whole miss-ratio curve. BE_OK, or BE_ERROR when out of memory (nothing appended). Thread:
 * the one that read m. */
int be_metrics_json(const be_metrics_t *m, double uptime_seconds, size_t top, struct evbuffer *out);

/* A row of the table: its name, "counter" | "gauge" | "histogram", and its label names
 * joined by "," ("" for none). NULL for an id out of range. */
const char *be_metrics_name(int id);
const char *be_metrics_type(int id);
const char *be_metrics_labels(int id);

#endif
