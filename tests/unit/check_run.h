/* The one main() tail every Check suite here shares, and scratch files. */
#ifndef MM_CHECK_RUN_H
#define MM_CHECK_RUN_H

#include <check.h>
#include <stddef.h>

/**
 * @brief Run @p suite (taken), print Check's summary, and return the
 * process exit status: EXIT_SUCCESS when every test passed. CK_RUN_CASE
 * (set per CTest by tests/CMakeLists.txt) selects one TCase.
 */
int mm_check_run(Suite *suite);

/** @brief A new empty folder under /tmp; its path into @p path. */
void mm_test_dir(char path[64]);
/** @brief Remove a folder mm_test_dir made, with everything in it. */
void mm_test_dir_remove(const char *path);
/** @brief Write @p text to @p dir/@p name; the file's path into @p path. */
void mm_test_file(const char *dir, const char *name, const char *text, char *path,
                  size_t cap);

#endif
