/*
 * Log-linear latency histogram (see histogram.h for the contract).
 *
 * HOW IT WORKS: a value v below 2^SUB_BITS is its own bucket. Above, with
 * k = floor(log2 v) and shift = k - SUB_BITS, v falls in sub-bucket
 * (v >> shift) of the power of two [2^k, 2^(k+1)), whose width is 2^shift,
 * and the bucket index is (shift << SUB_BITS) + (v >> shift): contiguous
 * from 0 to MM_HISTOGRAM_BUCKETS - 1 with no gap, and one clz away from v.
 *
 * Single writer: the writer increments with a relaxed load and a relaxed
 * store (no lock prefix, no CAS loop). A reader's relaxed load sees each
 * counter whole, never torn, but not all counters at one instant; the
 * readers here snapshot the buckets once per call and derive everything
 * they report from that snapshot, so an exposition is self-consistent.
 */
#include "histogram.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

struct mm_histogram_s {
    _Atomic uint64_t counts[MM_HISTOGRAM_BUCKETS];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
    _Atomic uint64_t max_us;
};

#define LOAD(p) atomic_load_explicit((p), memory_order_relaxed)
#define STORE(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)

static size_t bucket_of(uint64_t v) {
    if (v < MM_HISTOGRAM_SUB_BUCKETS)
        return (size_t)v;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = k - MM_HISTOGRAM_SUB_BITS;
    return ((size_t)shift << MM_HISTOGRAM_SUB_BITS) + (size_t)(v >> shift);
}

/* Lowest value of bucket i, and its width. */
static void bucket_range(size_t i, uint64_t *lo, uint64_t *width) {
    if (i < 2 * MM_HISTOGRAM_SUB_BUCKETS) {
        *lo = i;
        *width = 1;
        return;
    }
    unsigned shift = (unsigned)(i >> MM_HISTOGRAM_SUB_BITS) - 1u;
    uint64_t sub = i & (MM_HISTOGRAM_SUB_BUCKETS - 1u);
    *lo = (MM_HISTOGRAM_SUB_BUCKETS + sub) << shift;
    *width = UINT64_C(1) << shift;
}

mm_histogram_t *mm_histogram_new(void) {
    mm_histogram_t *h = calloc(1, sizeof(*h));
    if (h)
        mm_histogram_reset(h); /* zero bits are zero atomics on our targets;
                                  this keeps it true by the letter of C11 */
    return h;
}

void mm_histogram_destroy(mm_histogram_t *h) { free(h); }

void mm_histogram_record_us(mm_histogram_t *h, uint64_t us) {
    if (us > MM_HISTOGRAM_MAX_US)
        us = MM_HISTOGRAM_MAX_US;
    _Atomic uint64_t *c = &h->counts[bucket_of(us)];
    STORE(c, LOAD(c) + 1);
    STORE(&h->count, LOAD(&h->count) + 1);
    STORE(&h->sum_us, LOAD(&h->sum_us) + us);
    if (us > LOAD(&h->max_us))
        STORE(&h->max_us, us);
}

void mm_histogram_merge(mm_histogram_t *dst, const mm_histogram_t *src) {
    uint64_t n = 0;
    for (size_t i = 0; i < MM_HISTOGRAM_BUCKETS; i++) {
        uint64_t c = LOAD(&src->counts[i]);
        if (c) {
            STORE(&dst->counts[i], LOAD(&dst->counts[i]) + c);
            n += c;
        }
    }
    /* The count is the buckets' sum, so that dst stays self-consistent even
     * when src's writer ran during the pass. */
    STORE(&dst->count, LOAD(&dst->count) + n);
    STORE(&dst->sum_us, LOAD(&dst->sum_us) + LOAD(&src->sum_us));
    uint64_t m = LOAD(&src->max_us);
    if (m > LOAD(&dst->max_us))
        STORE(&dst->max_us, m);
}

void mm_histogram_reset(mm_histogram_t *h) {
    for (size_t i = 0; i < MM_HISTOGRAM_BUCKETS; i++)
        STORE(&h->counts[i], 0);
    STORE(&h->count, 0);
    STORE(&h->sum_us, 0);
    STORE(&h->max_us, 0);
}

uint64_t mm_histogram_count(const mm_histogram_t *h) { return LOAD(&h->count); }

uint64_t mm_histogram_sum_us(const mm_histogram_t *h) { return LOAD(&h->sum_us); }

uint64_t mm_histogram_max_us(const mm_histogram_t *h) { return LOAD(&h->max_us); }

/* Copies the buckets once; @returns their total. */
static uint64_t snapshot(const mm_histogram_t *h, uint64_t *counts) {
    uint64_t total = 0;
    for (size_t i = 0; i < MM_HISTOGRAM_BUCKETS; i++) {
        counts[i] = LOAD(&h->counts[i]);
        total += counts[i];
    }
    return total;
}

double mm_histogram_quantile_us(const mm_histogram_t *h, double q) {
    uint64_t counts[MM_HISTOGRAM_BUCKETS];
    uint64_t total = snapshot(h, counts);
    if (total == 0)
        return 0.0;
    if (!(q > 0.0)) /* also NaN */
        q = 0.0;
    if (q > 1.0)
        q = 1.0;
    double r = ceil(q * (double)total);
    uint64_t rank = r < 1.0 ? 1 : r >= (double)total ? total : (uint64_t)r;
    double max = (double)LOAD(&h->max_us);
    if (rank == total)
        return max; /* the top rank is the largest value, known exactly */
    uint64_t acc = 0;
    size_t i = 0;
    for (; i < MM_HISTOGRAM_BUCKETS; i++) {
        acc += counts[i];
        if (acc >= rank)
            break;
    }
    uint64_t lo, width;
    bucket_range(i, &lo, &width);
    /* The middle of the bucket halves the worst error; never past the
     * largest value seen. */
    double mid = (double)lo + (double)(width - 1) / 2.0;
    return mid > max ? max : mid;
}

void mm_histogram_cumulative(const mm_histogram_t *h, const uint64_t *le_us,
                             size_t n_le, uint64_t *cum_out, uint64_t *count_out,
                             uint64_t *sum_us_out) {
    /* Relaxed loads: the sum may be off from the counts by the few values
     * recorded during this pass; Prometheus' rate() does not care. */
    uint64_t sum = LOAD(&h->sum_us);
    uint64_t acc = 0;
    size_t j = 0;
    for (size_t i = 0; i < MM_HISTOGRAM_BUCKETS; i++) {
        uint64_t c = LOAD(&h->counts[i]);
        if (!c)
            continue;
        uint64_t lo, width;
        bucket_range(i, &lo, &width);
        uint64_t hi = lo + width - 1;
        while (j < n_le && le_us[j] < hi)
            cum_out[j++] = acc;
        acc += c;
    }
    while (j < n_le)
        cum_out[j++] = acc;
    *count_out = acc;
    *sum_us_out = sum;
}
