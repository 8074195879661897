/* The one main() tail every Check suite here shares. */
#ifndef MM_CHECK_RUN_H
#define MM_CHECK_RUN_H

#include <check.h>

/**
 * @brief Run @p suite (taken), print Check's summary, and return the
 * process exit status: EXIT_SUCCESS when every test passed. CK_RUN_CASE
 * (set per CTest by tests/CMakeLists.txt) selects one TCase.
 */
int mm_check_run(Suite *suite);

#endif
