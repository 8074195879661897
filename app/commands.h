/* Entry points of the subcommands: argv[0] is the subcommand's name. */
#ifndef MM_COMMANDS_H
#define MM_COMMANDS_H

int mm_cmd_run(int argc, char **argv);
int mm_cmd_broker(int argc, char **argv);
int mm_cmd_demo(int argc, char **argv);
int mm_cmd_classify(int argc, char **argv);
int mm_cmd_eval(int argc, char **argv);


#endif
