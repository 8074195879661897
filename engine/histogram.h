/*
 * A latency histogram for the hot path: one writer thread records with
 * relaxed atomic stores (no lock, no allocation, no read-modify-write
 * instruction), any other thread reads.
 *
 * Buckets are log-linear, as in HdrHistogram: every power of two is split
 * into MM_HISTOGRAM_SUB_BUCKETS equal sub-buckets, and values below
 * MM_HISTOGRAM_SUB_BUCKETS get a bucket each. A bucket is therefore never
 * wider than 1/MM_HISTOGRAM_SUB_BUCKETS of its lower bound, and a quantile
 * (reported as the middle of its bucket) is within MM_HISTOGRAM_REL_ERROR of
 * the exact one, at every scale from 1 us to MM_HISTOGRAM_MAX_US.
 *
 * Several writers (worker threads) each own a histogram; a reader sums them
 * with mm_histogram_merge() into a histogram of its own.
 */
#ifndef MM_HISTOGRAM_H
#define MM_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/** log2 of the sub-buckets per power of two. */
#define MM_HISTOGRAM_SUB_BITS 5
#define MM_HISTOGRAM_SUB_BUCKETS (1u << MM_HISTOGRAM_SUB_BITS)
/** Largest value kept apart (about 71.6 minutes); larger ones count as it. */
#define MM_HISTOGRAM_MAX_US ((UINT64_C(1) << 32) - 1)
/** Worst relative error of a quantile: half a bucket, 1/64 (1.5625 %). */
#define MM_HISTOGRAM_REL_ERROR (1.0 / (2.0 * MM_HISTOGRAM_SUB_BUCKETS))
/** Bucket count: 32 exact ones, then 32 per power of two from 2^5 to 2^31. */
#define MM_HISTOGRAM_BUCKETS \
    (MM_HISTOGRAM_SUB_BUCKETS * (32u - MM_HISTOGRAM_SUB_BITS + 1u))

typedef struct mm_histogram_s mm_histogram_t;

/**
 * @brief An empty histogram (about 7 KB, zeroed).
 * @returns NULL when memory is short.
 */
mm_histogram_t *mm_histogram_new(void);

/** @brief Free @p h; NULL is fine. No thread may use it any more. */
void mm_histogram_destroy(mm_histogram_t *h);

/**
 * @brief Count one value, in microseconds (clamped to MM_HISTOGRAM_MAX_US).
 * @locality the histogram's one writer thread: two threads recording into
 *           one histogram lose counts (use one histogram per thread).
 *           Lock-free and wait-free: a few relaxed loads and stores.
 */
void mm_histogram_record_us(mm_histogram_t *h, uint64_t us);

/**
 * @brief Add every count of @p src into @p dst.
 * @locality @p src: any thread (its writer may go on recording: the counts
 *           read are each exact, the set of them is not one instant);
 *           @p dst: its writer thread (usually a reader's scratch copy).
 */
void mm_histogram_merge(mm_histogram_t *dst, const mm_histogram_t *src);

/**
 * @brief Forget every value.
 * @locality the writer thread, or when no thread records; a concurrent
 *           reader may see some buckets already zero and others not.
 */
void mm_histogram_reset(mm_histogram_t *h);

/** @brief Values recorded. @locality any thread. */
uint64_t mm_histogram_count(const mm_histogram_t *h);

/** @brief Sum of the values recorded (after clamping), in us. @locality any. */
uint64_t mm_histogram_sum_us(const mm_histogram_t *h);

/** @brief Largest value recorded, in us; 0 when empty. @locality any. */
uint64_t mm_histogram_max_us(const mm_histogram_t *h);

/**
 * @brief The value below which a fraction @p q of the values fall (p50:
 * 0.5, p99.9: 0.999), within MM_HISTOGRAM_REL_ERROR of the exact one (the
 * value of rank ceil(q * count) in sorted order).
 * @param q in [0, 1]; out-of-range values are clamped.
 * @returns microseconds; 0 when the histogram is empty. q = 1 gives the max.
 * @locality any thread; O(MM_HISTOGRAM_BUCKETS).
 */
double mm_histogram_quantile_us(const mm_histogram_t *h, double q);

/**
 * @brief One consistent pass for an exposition: for each bound le_us[i]
 * (ascending), the count of values <= it, plus the total and the sum.
 * A value is counted at a bound only when its whole bucket lies at or below
 * it: a bucket that straddles a bound counts at the next one, so a value
 * less than one bucket width (1/32 of it) below a bound may show one bound
 * late; never early.
 * @param cum_out n_le entries, non-decreasing, each <= *count_out.
 * @locality any thread.
 */
void mm_histogram_cumulative(const mm_histogram_t *h, const uint64_t *le_us,
                             size_t n_le, uint64_t *cum_out, uint64_t *count_out,
                             uint64_t *sum_us_out);

#endif
