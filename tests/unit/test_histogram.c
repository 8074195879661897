/* Latency histogram: quantile accuracy at every scale, clamping, merging,
 * exposition bounds, and one writer with a concurrent reader. */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "engine/histogram.h"

static uint64_t lcg_next(uint64_t *s) {
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 11;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Exact quantile as the histogram defines it: the value of rank
 * ceil(q * n) in sorted order. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q) {
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

/* Rows: log-uniform values over the given decades (1 us .. 1000 s). */
static const struct {
    double lo_us, hi_us;
} accuracy_rows[] = {{1, 100}, {10, 1e4}, {100, 1e6}, {1, 1e9}, {5e5, 5e5 * 1.01}};

START_TEST(test_quantiles_within_relative_precision) {
    enum { N = 200000 };
    uint64_t *values = malloc(N * sizeof(*values));
    mm_histogram_t *h = mm_histogram_new();
    uint64_t seed = 42u + (uint64_t)_i;
    double lo = log(accuracy_rows[_i].lo_us), hi = log(accuracy_rows[_i].hi_us);
    for (size_t i = 0; i < N; i++) {
        double u = (double)lcg_next(&seed) / 9007199254740992.0;
        values[i] = (uint64_t)llround(exp(lo + u * (hi - lo)));
        mm_histogram_record_us(h, values[i]);
    }
    qsort(values, N, sizeof(*values), cmp_u64);
    static const double qs[] = {0.0, 0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        double exact = (double)exact_quantile(values, N, qs[k]);
        double got = mm_histogram_quantile_us(h, qs[k]);
        ck_assert_msg(fabs(got - exact) <= exact * MM_HISTOGRAM_REL_ERROR,
                      "row %d q=%g: got %.1f, exact %.0f", _i, qs[k], got, exact);
    }
    ck_assert_uint_eq(mm_histogram_count(h), N);
    ck_assert_uint_eq(mm_histogram_max_us(h), values[N - 1]);
    free(values);
    mm_histogram_destroy(h);
}
END_TEST

START_TEST(test_small_values_are_exact) {
    mm_histogram_t *h = mm_histogram_new();
    for (uint64_t v = 0; v < 64; v++)
        mm_histogram_record_us(h, v);
    for (uint64_t v = 1; v <= 64; v++)
        ck_assert_double_eq(mm_histogram_quantile_us(h, (double)v / 64.0), (double)(v - 1));
    mm_histogram_destroy(h);
}
END_TEST

START_TEST(test_empty_histogram_reports_zero) {
    mm_histogram_t *h = mm_histogram_new();
    ck_assert_double_eq(mm_histogram_quantile_us(h, 0.99), 0.0);
    ck_assert_uint_eq(mm_histogram_count(h), 0);
    uint64_t le = 100, cum = 7, count = 7, sum = 7;
    mm_histogram_cumulative(h, &le, 1, &cum, &count, &sum);
    ck_assert_uint_eq(cum, 0);
    ck_assert_uint_eq(count, 0);
    ck_assert_uint_eq(sum, 0);
    mm_histogram_destroy(h);
}
END_TEST

START_TEST(test_values_past_the_range_are_clamped) {
    mm_histogram_t *h = mm_histogram_new();
    mm_histogram_record_us(h, UINT64_MAX);
    mm_histogram_record_us(h, MM_HISTOGRAM_MAX_US + 1);
    ck_assert_uint_eq(mm_histogram_count(h), 2);
    ck_assert_uint_eq(mm_histogram_max_us(h), MM_HISTOGRAM_MAX_US);
    ck_assert_double_eq(mm_histogram_quantile_us(h, 1.0), (double)MM_HISTOGRAM_MAX_US);
    ck_assert_uint_eq(mm_histogram_sum_us(h), 2 * MM_HISTOGRAM_MAX_US);
    mm_histogram_destroy(h);
}
END_TEST

START_TEST(test_merge_sums_histograms) {
    mm_histogram_t *a = mm_histogram_new(), *b = mm_histogram_new(), *sum = mm_histogram_new();
    for (int i = 0; i < 99; i++)
        mm_histogram_record_us(a, 100);
    mm_histogram_record_us(b, 100000);
    mm_histogram_merge(sum, a);
    mm_histogram_merge(sum, b);
    ck_assert_uint_eq(mm_histogram_count(sum), 100);
    ck_assert_uint_eq(mm_histogram_sum_us(sum), 99 * 100 + 100000);
    ck_assert_uint_eq(mm_histogram_max_us(sum), 100000);
    double p50 = mm_histogram_quantile_us(sum, 0.5), p100 = mm_histogram_quantile_us(sum, 1);
    ck_assert(fabs(p50 - 100) <= 100 * MM_HISTOGRAM_REL_ERROR);
    ck_assert_double_eq(p100, 100000);
    mm_histogram_reset(sum);
    ck_assert_uint_eq(mm_histogram_count(sum), 0);
    mm_histogram_destroy(a);
    mm_histogram_destroy(b);
    mm_histogram_destroy(sum);
}
END_TEST

START_TEST(test_cumulative_counts_never_early) {
    mm_histogram_t *h = mm_histogram_new();
    /* From 512 us buckets are 16 wide: 991 tops [976, 991], 1000 lies in
     * [992, 1007] which straddles le=1000, 1023 tops [1008, 1023]. */
    static const uint64_t vals[] = {10, 50, 51, 991, 1000, 1023, 1024};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        mm_histogram_record_us(h, vals[i]);
    static const uint64_t le[] = {50, 991, 1000, 1023, 2000};
    uint64_t cum[5], count, sum;
    mm_histogram_cumulative(h, le, 5, cum, &count, &sum);
    ck_assert_uint_eq(cum[0], 2); /* 10, 50: exact, width-1 buckets */
    ck_assert_uint_eq(cum[1], 4); /* 51 (exact) and 991 (its bucket's top) */
    ck_assert_uint_eq(cum[2], 4); /* 1000 waits for a bound >= 1007 */
    ck_assert_uint_eq(cum[3], 6);
    ck_assert_uint_eq(cum[4], 7);
    ck_assert_uint_eq(count, 7);
    ck_assert_uint_eq(sum, 10 + 50 + 51 + 991 + 1000 + 1023 + 1024);
    mm_histogram_destroy(h);
}
END_TEST

typedef struct {
    mm_histogram_t *h;
    atomic_bool done;
    uint64_t n;
} writer_arg_t;

static void *writer_main(void *p) {
    writer_arg_t *arg = p;
    uint64_t seed = 7;
    for (uint64_t i = 0; i < arg->n; i++)
        mm_histogram_record_us(arg->h, lcg_next(&seed) % 100000);
    atomic_store(&arg->done, true);
    return NULL;
}

START_TEST(test_reader_sees_consistent_counts_while_writer_records) {
    writer_arg_t arg = {.h = mm_histogram_new(), .n = 2000000};
    atomic_init(&arg.done, false);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, writer_main, &arg), 0);
    static const uint64_t le[] = {100, 1000, 10000, 100000};
    uint64_t last_count = 0;
    int reads = 0;
    while (!atomic_load(&arg.done) || reads == 0) {
        uint64_t cum[4], count, sum;
        mm_histogram_cumulative(arg.h, le, 4, cum, &count, &sum);
        for (int i = 1; i < 4; i++)
            ck_assert_uint_le(cum[i - 1], cum[i]);
        ck_assert_uint_le(cum[3], count);
        ck_assert_uint_ge(count, last_count); /* counts only grow */
        last_count = count;
        reads++;
    }
    pthread_join(t, NULL);
    ck_assert_uint_eq(mm_histogram_count(arg.h), arg.n); /* nothing lost */
    uint64_t cum[4], count, sum;
    mm_histogram_cumulative(arg.h, le, 4, cum, &count, &sum);
    ck_assert_uint_eq(count, arg.n);
    mm_histogram_destroy(arg.h);
}
END_TEST

int main(void) {
    Suite *s = suite_create("histogram");
    TCase *tc;
    tc = tcase_create("quantiles_within_relative_precision");
    tcase_add_loop_test(tc, test_quantiles_within_relative_precision, 0,
                        (int)(sizeof(accuracy_rows) / sizeof(accuracy_rows[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("small_values_are_exact");
    tcase_add_test(tc, test_small_values_are_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("empty_histogram_reports_zero");
    tcase_add_test(tc, test_empty_histogram_reports_zero);
    suite_add_tcase(s, tc);
    tc = tcase_create("values_past_the_range_are_clamped");
    tcase_add_test(tc, test_values_past_the_range_are_clamped);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge_sums_histograms");
    tcase_add_test(tc, test_merge_sums_histograms);
    suite_add_tcase(s, tc);
    tc = tcase_create("cumulative_counts_never_early");
    tcase_add_test(tc, test_cumulative_counts_never_early);
    suite_add_tcase(s, tc);
    tc = tcase_create("reader_consistent_while_writer_records");
    tcase_add_test(tc, test_reader_sees_consistent_counts_while_writer_records);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
