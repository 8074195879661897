#define _XOPEN_SOURCE 700 /* nftw */
#include "check_run.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mm_check_run(Suite *suite) {
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void mm_test_file(const char *dir, const char *name, const char *text, char *path,
                  size_t cap) {
    ck_assert_int_lt(snprintf(path, cap, "%s/%s", dir, name), (int)cap);
    FILE *fp = fopen(path, "w");
    ck_assert_msg(fp != NULL, "cannot write %s", path);
    fputs(text, fp);
    fclose(fp);
}

void mm_test_dir(char path[64]) {
    strcpy(path, "/tmp/mm_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void mm_test_dir_remove(const char *path) {
    ck_assert_int_eq(strncmp(path, "/tmp/mm_test_", 13), 0); /* never anything else */
    ck_assert_int_eq(nftw(path, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}
