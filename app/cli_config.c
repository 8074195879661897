/* -c and -X for the offline commands; see cli_config.h. */
#include "cli_config.h"

#include <string.h>

int mm_cli_config_option(mm_config_t *cfg, const char *cmd, int opt, char *arg) {
    char errstr[1024];
    if (opt == 'c') {
        if (mm_config_load_file(cfg, arg, errstr, sizeof(errstr)) != MM_CONF_OK) {
            fprintf(stderr, "micromoment %s: %s\n", cmd, errstr);
            return 2;
        }
        return 0;
    }
    if (opt != 'X')
        return -1;
    char *eq = strchr(arg, '=');
    if (!eq) {
        fprintf(stderr, "micromoment %s: -X %s: expected KEY=VALUE\n", cmd, arg);
        return 2;
    }
    *eq = '\0';
    if (mm_config_set(cfg, arg, eq + 1, errstr, sizeof(errstr)) != MM_CONF_OK) {
        fprintf(stderr, "micromoment %s: %s\n", cmd, errstr);
        return 2;
    }
    return 0;
}
