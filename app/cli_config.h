/* Command-line options that the offline commands (classify, eval) share. */
#ifndef MM_CLI_CONFIG_H
#define MM_CLI_CONFIG_H

#include "config.h"

/**
 * @brief Apply `-c FILE` or `-X KEY=VALUE` to @p cfg.
 * @param cmd the subcommand's name, for messages ("classify").
 * @param opt the option character getopt returned, @p arg its argument.
 * @returns 0 when applied, 2 when invalid (the message, naming the key or
 *          file, is printed on stderr), -1 when @p opt is neither.
 */
int mm_cli_config_option(mm_config_t *cfg, const char *cmd, int opt, char *arg);

#endif
