/* Offset tracker: what may be committed, whatever order acks come in. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>

#include "consumer/consumer.h"

START_TEST(test_nothing_committable_before_any_ack) {
    mm_offsets_t *o = mm_offsets_new(8);
    uint64_t t;
    ck_assert_int_eq(mm_offsets_begin(o, 100, &t), MM_ERR_OK);
    ck_assert_int_eq(mm_offsets_committable(o), -1);
    ck_assert_uint_eq(mm_offsets_inflight(o), 1);
    mm_offsets_destroy(o);
}
END_TEST

START_TEST(test_record_without_outputs_commits_after_release) {
    mm_offsets_t *o = mm_offsets_new(8);
    uint64_t t;
    mm_offsets_begin(o, 5, &t);
    mm_offsets_release(o, t);
    ck_assert_int_eq(mm_offsets_committable(o), 6);
    ck_assert_uint_eq(mm_offsets_inflight(o), 0);
    mm_offsets_destroy(o);
}
END_TEST

START_TEST(test_out_of_order_acks_commit_only_the_contiguous_prefix) {
    mm_offsets_t *o = mm_offsets_new(8);
    uint64_t t[3];
    for (int i = 0; i < 3; i++) {
        mm_offsets_begin(o, 10 + i, &t[i]);
        mm_offsets_hold(o, t[i]); /* one output each */
        mm_offsets_release(o, t[i]); /* processing done */
    }
    mm_offsets_release(o, t[2]); /* ack of the newest first */
    mm_offsets_release(o, t[1]);
    ck_assert_int_eq(mm_offsets_committable(o), -1);
    mm_offsets_release(o, t[0]);
    ck_assert_int_eq(mm_offsets_committable(o), 13);
    mm_offsets_destroy(o);
}
END_TEST

START_TEST(test_record_with_two_outputs_waits_for_both) {
    mm_offsets_t *o = mm_offsets_new(8);
    uint64_t t;
    mm_offsets_begin(o, 0, &t);
    mm_offsets_hold(o, t);
    mm_offsets_hold(o, t);
    mm_offsets_release(o, t);
    mm_offsets_release(o, t);
    ck_assert_int_eq(mm_offsets_committable(o), -1);
    mm_offsets_release(o, t);
    ck_assert_int_eq(mm_offsets_committable(o), 1);
    mm_offsets_destroy(o);
}
END_TEST

START_TEST(test_full_tracker_refuses_until_head_finishes) {
    mm_offsets_t *o = mm_offsets_new(4);
    uint64_t t[5];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(mm_offsets_begin(o, i, &t[i]), MM_ERR_OK);
    ck_assert(mm_offsets_full(o));
    ck_assert_int_eq(mm_offsets_begin(o, 4, &t[4]), MM_ERR_FULL);
    mm_offsets_release(o, t[1]); /* not the head: still full */
    ck_assert_int_eq(mm_offsets_begin(o, 4, &t[4]), MM_ERR_FULL);
    mm_offsets_release(o, t[0]);
    ck_assert_int_eq(mm_offsets_committable(o), 2);
    ck_assert_int_eq(mm_offsets_begin(o, 4, &t[4]), MM_ERR_OK);
    mm_offsets_destroy(o);
}
END_TEST

START_TEST(test_stale_ticket_is_ignored) {
    mm_offsets_t *o = mm_offsets_new(2);
    uint64_t t0, t1;
    mm_offsets_begin(o, 0, &t0);
    mm_offsets_release(o, t0);
    mm_offsets_begin(o, 1, &t1);
    mm_offsets_release(o, t0); /* its slot now belongs to a newer record */
    ck_assert_int_eq(mm_offsets_committable(o), 1);
    ck_assert_uint_eq(mm_offsets_inflight(o), 1);
    mm_offsets_destroy(o);
}
END_TEST

START_TEST(test_many_records_wrap_the_ring) {
    mm_offsets_t *o = mm_offsets_new(16);
    for (int64_t off = 0; off < 100000; off++) {
        uint64_t t;
        ck_assert_int_eq(mm_offsets_begin(o, off, &t), MM_ERR_OK);
        mm_offsets_release(o, t);
    }
    ck_assert_int_eq(mm_offsets_committable(o), 100000);
    mm_offsets_destroy(o);
}
END_TEST

int main(void) {
    Suite *s = suite_create("offsets");
    TCase *tc = tcase_create("offsets");
    tcase_add_test(tc, test_nothing_committable_before_any_ack);
    tcase_add_test(tc, test_record_without_outputs_commits_after_release);
    tcase_add_test(tc, test_out_of_order_acks_commit_only_the_contiguous_prefix);
    tcase_add_test(tc, test_record_with_two_outputs_waits_for_both);
    tcase_add_test(tc, test_full_tracker_refuses_until_head_finishes);
    tcase_add_test(tc, test_stale_ticket_is_ignored);
    tcase_add_test(tc, test_many_records_wrap_the_ring);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
