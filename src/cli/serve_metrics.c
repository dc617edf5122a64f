/*
 * serve_metrics.c -- the daemon's counters and their Prometheus text form
 * (exposition format 0.0.4): checks by action and label, account actions,
 * reports, a latency histogram per request kind, HTTP responses by class,
 * model and store sizes, RSS.  Counters are atomics bumped by the worker
 * threads; only the sizes need the engine lock.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"

/* Bucket upper bounds, seconds: 50 us .. 1 s around the 5 ms p99 target. */
static const double hist_le[SG_SERVE_HIST_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005,   0.01,   0.025,   0.05,   0.25,  1.0};

static const char *const kind_name[2] = {"single", "batch"};
static const char *const result_name[3] = {"accepted", "rate_limited",
                                           "rejected"};

#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

void sg_serve_metrics_verdict(sg_serve_metrics *m, const sg_verdict *v) {
    unsigned a = (unsigned)sg_verdict_action(v);
    unsigned aa = (unsigned)sg_verdict_account_action(v);
    unsigned l = sg_verdict_labels(v);
    ADD(m->checks[a & 3], 1);
    ADD(m->account_actions[aa & 3], 1);
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        if (l & (1u << i)) ADD(m->labels[i], 1);
}

void sg_serve_metrics_latency(sg_serve_metrics *m, int kind, uint64_t ns) {
    double s = ns / 1e9;
    size_t b = 0;
    while (b < SG_SERVE_HIST_BUCKETS && s > hist_le[b]) b++;
    ADD(m->hist[kind][b], 1);
    ADD(m->hist_sum_ns[kind], ns);
}

/* A growable text buffer for the exposition. */
typedef struct out {
    char *p;
    size_t len, cap;
    bool oom;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...) {
    if (o->oom) return;
    if (!o->p && !(o->p = malloc(o->cap = 8192))) { o->oom = true; return; }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) { o->oom = true; return; }
        if (o->len + (size_t)n < o->cap) { o->len += n; return; }
        size_t cap = (o->cap + n + 1) * 2;
        char *p = realloc(o->p, cap);
        if (!p) { o->oom = true; return; }
        o->p = p;
        o->cap = cap;
    }
}

static void head(out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_checks(out *o, sg_serve_metrics *m) {
    head(o, "spimguard_checks_total", "counter", "Messages judged, by action.");
    for (int a = 0; a < 4; a++)
        put(o, "spimguard_checks_total{action=\"%s\"} %lu\n",
            sg_action_name((sg_action)a), (unsigned long)GET(m->checks[a]));
    head(o, "spimguard_check_labels_total", "counter",
         "Verdicts carrying each label.");
    for (unsigned i = 0; i < SG_LABEL_COUNT_; i++)
        put(o, "spimguard_check_labels_total{label=\"%s\"} %lu\n",
            sg_label_name(1u << i), (unsigned long)GET(m->labels[i]));
    head(o, "spimguard_account_actions_total", "counter",
         "Verdicts by the account action they asked for.");
    for (int a = 0; a < 4; a++)
        put(o, "spimguard_account_actions_total{action=\"%s\"} %lu\n",
            sg_account_action_name((sg_account_action)a),
            (unsigned long)GET(m->account_actions[a]));
    head(o, "spimguard_check_errors_total", "counter",
         "Messages refused (bad JSON, missing field, invalid UTF-8, too big).");
    put(o, "spimguard_check_errors_total %lu\n", (unsigned long)GET(m->check_errors));
    head(o, "spimguard_store_errors_total", "counter",
         "Checks the state store failed, by how they were answered (store_failure).");
    static const char *const how[3] = {"error", "open", "closed"};
    for (int i = 0; i < 3; i++)
        put(o, "spimguard_store_errors_total{handled=\"%s\"} %lu\n", how[i],
            (unsigned long)GET(m->store_errors[i]));
    head(o, "spimguard_batches_total", "counter", "Batch requests judged.");
    put(o, "spimguard_batches_total %lu\n", (unsigned long)GET(m->batches));
}

static void render_reports(out *o, sg_serve_metrics *m) {
    head(o, "spimguard_reports_total", "counter",
         "User reports, by label and what became of them.");
    for (int l = 1; l >= 0; l--)
        for (int r = 0; r < 3; r++)
            put(o, "spimguard_reports_total{label=\"%s\",result=\"%s\"} %lu\n",
                l ? "spam" : "not_spam", result_name[r],
                (unsigned long)GET(m->reports[l][r]));
    head(o, "spimguard_reports_learned_total", "counter",
         "Reports that took an online step of the content model.");
    put(o, "spimguard_reports_learned_total %lu\n", (unsigned long)GET(m->learned));
}

static void render_histogram(out *o, sg_serve_metrics *m) {
    head(o, "spimguard_request_duration_seconds", "histogram",
         "Time to answer POST /v1/check, from first byte to response.");
    for (int k = 0; k < 2; k++) {
        uint64_t cum = 0;
        for (int b = 0; b <= SG_SERVE_HIST_BUCKETS; b++) {
            cum += GET(m->hist[k][b]);
            if (b < SG_SERVE_HIST_BUCKETS)
                put(o, "spimguard_request_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %lu\n",
                    kind_name[k], hist_le[b], (unsigned long)cum);
            else
                put(o, "spimguard_request_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %lu\n",
                    kind_name[k], (unsigned long)cum);
        }
        put(o, "spimguard_request_duration_seconds_sum{kind=\"%s\"} %.6f\n",
            kind_name[k], GET(m->hist_sum_ns[k]) / 1e9);
        put(o, "spimguard_request_duration_seconds_count{kind=\"%s\"} %lu\n",
            kind_name[k], (unsigned long)cum);
    }
    head(o, "spimguard_http_responses_total", "counter",
         "HTTP responses by status class.");
    for (int c = 1; c <= 5; c++)
        put(o, "spimguard_http_responses_total{code=\"%dxx\"} %lu\n", c,
            (unsigned long)GET(m->http[c]));
}

static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void render_sizes(out *o, sg_serve *s) {
    sg_query_sizes z;
    size_t rmsgs, rbytes;
    pthread_mutex_lock(&s->eng_lock);
    sg__query_sizes(s->eng, &z);
    pthread_mutex_unlock(&s->eng_lock);
    sg_recent_size(s->recent, &rmsgs, &rbytes);
    head(o, "spimguard_model_weights", "gauge", "Weights of the content model.");
    put(o, "spimguard_model_weights %lu\n", (unsigned long)z.model_weights);
    head(o, "spimguard_model_bytes", "gauge", "Bytes of the content model's weights.");
    put(o, "spimguard_model_bytes %lu\n", (unsigned long)z.model_bytes);
    head(o, "spimguard_model_updates_total", "counter",
         "Online gradient steps taken by the content model since it was loaded.");
    put(o, "spimguard_model_updates_total %lu\n",
        (unsigned long)(z.model_updates - s->model_updates_at_load));
    head(o, "spimguard_store_keys", "gauge", "Live keys in the state store.");
    put(o, "spimguard_store_keys{backend=\"%s\"} %lu\n", z.store_name,
        (unsigned long)z.store_keys);
    head(o, "spimguard_store_bytes", "gauge", "Bytes used by the state store.");
    put(o, "spimguard_store_bytes{backend=\"%s\"} %lu\n", z.store_name,
        (unsigned long)z.store_bytes);
    head(o, "spimguard_recent_messages", "gauge",
         "Checked messages kept for reports by id.");
    put(o, "spimguard_recent_messages %zu\n", rmsgs);
    head(o, "spimguard_process_resident_memory_bytes", "gauge",
         "Resident set size of the daemon.");
    put(o, "spimguard_process_resident_memory_bytes %lu\n", (unsigned long)rss_bytes());
}

char *sg_serve_metrics_render(sg_serve *s) {
    out o = {0};
    sg_serve_metrics *m = &s->metrics;
    render_checks(&o, m);
    render_reports(&o, m);
    render_histogram(&o, m);
    render_sizes(&o, s);
    head(&o, "spimguard_reloads_total", "counter", "SIGHUP reloads, by result.");
    put(&o, "spimguard_reloads_total{result=\"ok\"} %lu\n", (unsigned long)GET(m->reloads));
    put(&o, "spimguard_reloads_total{result=\"failed\"} %lu\n",
        (unsigned long)GET(m->reload_failures));
    head(&o, "spimguard_prepare_cpu_seconds_total", "counter",
         "Thread CPU time of the prepare phase (parallel, outside the engine lock).");
    put(&o, "spimguard_prepare_cpu_seconds_total %.6f\n", GET(m->prepare_cpu_ns) / 1e9);
    head(&o, "spimguard_judge_cpu_seconds_total", "counter",
         "Thread CPU time of the judge phase, under the engine lock (its share "
         "bounds the checks per second, whatever the cores).");
    put(&o, "spimguard_judge_cpu_seconds_total %.6f\n", GET(m->judge_cpu_ns) / 1e9);
    head(&o, "spimguard_inflight_requests", "gauge",
         "Requests received whole and being answered.");
    put(&o, "spimguard_inflight_requests %d\n", atomic_load(&s->inflight));
    head(&o, "spimguard_uptime_seconds", "gauge", "Seconds since the daemon started.");
    put(&o, "spimguard_uptime_seconds %.3f\n", (sg_serve_wall_ms() - s->started_ms) / 1e3);
    if (o.oom) { free(o.p); return NULL; }
    return o.p;
}
